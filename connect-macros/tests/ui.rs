//! Compile-fail cases of the config derives (`trybuild`); what must compile
//! is in the other tests (a `pass` case would make trybuild build every
//! dependency again instead of checking).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
