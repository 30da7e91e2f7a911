//! Compiles the kiosk's Slint views.
//!
//! Debug info stays on in every build: the testing backend finds elements by their
//! accessible labels only when it is there. The fonts (`ui/fonts`) are embedded as files and
//! drawn by the software renderer's own rasteriser, so what the kiosk draws does not depend
//! on the machine's fonts. (Pre-rendered glyphs would draw the same, but Slint drops every
//! accessible label when it pre-renders, and the tests and screen readers need them.)

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_debug_info(true)
        .with_bundled_translations("lang")
        // One translation per message, whichever screen shows it.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    if let Err(e) = slint_build::compile_with_config("ui/kiosk.slint", config) {
        eprintln!("compiling the kiosk's views: {e}");
        std::process::exit(1);
    }
}
