//! The committed seeds are the ones the product's encoders make today; with
//! `MTIME_WRITE_SEEDS=1` the test writes them instead (after a format change).

use std::path::PathBuf;

#[test]
fn committed_seeds_match_what_the_encoders_make() {
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let write = std::env::var_os("MTIME_WRITE_SEEDS").is_some();
    for seed in mtime_fuzz::seeds::all() {
        let path = seeds.join(seed.target).join(&seed.name);
        if write {
            std::fs::create_dir_all(path.parent().expect("a target directory"))
                .expect("the seed directory can be made");
            std::fs::write(&path, &seed.bytes).expect("the seed can be written");
        } else {
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e}; run with MTIME_WRITE_SEEDS=1", path.display())
            });
            assert_eq!(committed, seed.bytes, "{} is stale", path.display());
        }
    }
}
