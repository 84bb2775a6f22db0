//! A model weights file (`.safetensors`: a length, a JSON header, tensors).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = moodtune_fer::model::weights::load_members(data, "weights.safetensors");
});
