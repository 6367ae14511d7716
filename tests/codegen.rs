//! Generating code from a broken spec catches progenitor's panic and silences its message, on
//! that thread only: a panic elsewhere in the process (another test) still reaches the hook
//! that was there, however many specs are generated at once. Its own binary, so that its hook
//! is the process's first.

#[path = "../src/codegen/mod.rs"]
#[allow(dead_code)]
mod codegen;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

static REPORTED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn generating_broken_specs_keeps_every_other_panic_message() {
    std::panic::set_hook(Box::new(|_| {
        REPORTED.fetch_add(1, SeqCst);
    }));
    let generating: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                let api = codegen::Api {
                    spec: "tests/fixtures/broken/two-success-schemas.yaml",
                    feature: "none",
                    out_file: "x.rs",
                    replacements: &[],
                };
                for _ in 0..20 {
                    let e = codegen::generate_file(&api).unwrap_err();
                    assert!(e.to_string().contains("progenitor failed"), "{e}");
                }
            })
        })
        .collect();
    let others = std::thread::spawn(|| {
        for _ in 0..200 {
            let _ = std::panic::catch_unwind(|| panic!("another test's panic"));
            std::thread::yield_now();
        }
    });
    for thread in generating {
        thread.join().unwrap();
    }
    others.join().unwrap();
    assert_eq!(
        REPORTED.load(SeqCst),
        200,
        "every panic of the other thread, and none of the generator's"
    );
}
