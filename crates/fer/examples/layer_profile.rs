//! Time per layer of an architecture's inference on one core, random weights:
//! `cargo run --release -p moodtune-fer --example layer_profile [ARCH]` (default slimvgg).
//! Run it on an idle machine; the figures guide the engine (nn/mod.rs: GEMM_MAX_COLS, Winograd; nn/batch.rs: the group budget).

use moodtune_fer::model::weights::random_safetensors;
use moodtune_fer::model::{Arch, LayerSpec, Network};
use moodtune_fer::nn::{max_pool2, Conv2d, Int8Stack, Products, Simd, Tensor, TileStack, Winograd};
use std::time::Instant;

/// Median milliseconds of one call, over 7 rounds of 50 calls.
fn median_ms(f: &mut dyn FnMut()) -> f64 {
    f();
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..50 {
                f();
            }
            t.elapsed().as_secs_f64() * 1000.0 / 50.0
        })
        .collect();
    rounds.sort_by(|a, b| a.total_cmp(b));
    rounds[3]
}

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "slimvgg".to_string());
    let arch = match Arch::by_name(&name) {
        Ok(arch) => arch,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut side = arch.input;
    let (mut total, mut total_used) = (0.0, 0.0);
    for layer in &arch.layers {
        match *layer {
            LayerSpec::Conv {
                name,
                cin,
                cout,
                k,
                pad,
                ..
            } => {
                let conv = Conv2d::new(
                    cin,
                    cout,
                    k,
                    pad,
                    (0..cout * cin * k * k)
                        .map(|i| (i % 7) as f32 * 0.01)
                        .collect(),
                    vec![0.0; cout],
                );
                let x = Tensor {
                    c: cin,
                    h: side,
                    w: side,
                    data: (0..cin * side * side).map(|i| (i % 5) as f32).collect(),
                };
                let ms = median_ms(&mut || {
                    std::hint::black_box(conv.forward(&x));
                });
                let out_side = side + 2 * pad + 1 - k;
                let macs = (cin * k * k * cout * out_side * out_side) as f64;
                // Each Winograd form where it applies, and what inference runs.
                let mut forms = String::new();
                for tile in [2, 3, 4] {
                    if let Some(fast) = Winograd::with_tile(&conv, tile) {
                        let wms = median_ms(&mut || {
                            std::hint::black_box(fast.forward(&x));
                        });
                        forms += &format!("  F{tile}x{tile} {wms:.3} ms ({:.2}x)", ms / wms);
                    }
                }
                let (mut used, mut chosen) = match Winograd::from_conv(&conv, side) {
                    Some(fast) => (
                        median_ms(&mut || {
                            std::hint::black_box(fast.forward(&x));
                        }),
                        format!("F{0}x{0}", fast.tile()),
                    ),
                    None => (ms, "im2col".to_string()),
                };
                // Straight on AMX tiles (bf16), where the CPU has them: what a pass in
                // bf16 runs, here with the map's conversion to and from the tiles' form
                // (a pass converts only its input and its last map).
                if let Some(tiles) = TileStack::new(&[(&conv, false)]) {
                    let tms = median_ms(&mut || {
                        std::hint::black_box(tiles.forward(&x, 1));
                    });
                    forms += &format!("  tiles {tms:.3} ms ({:.1} GMAC/s)", macs / tms / 1e6);
                    if Simd::bf16_products() {
                        (used, chosen) = (tms, "tiles".to_string());
                    }
                }
                // In 8 bits (AVX-512 VNNI or AVX2, as the level in force), after a 1x1
                // layer that lifts a plane to `cin` channels (a stack's first layer is f32
                // and reads one channel): the figure includes that layer and the rounding
                // to 8 bits.
                let lift = Conv2d::new(1, cin, 1, 0, vec![1.0; cin], vec![0.0; cin]);
                if let Some(int8) = Int8Stack::new(&[(&lift, false), (&conv, false)]) {
                    let plane = Tensor {
                        c: 1,
                        h: side,
                        w: side,
                        data: x.data[..side * side].to_vec(),
                    };
                    let ims = median_ms(&mut || {
                        std::hint::black_box(int8.forward(&plane, 1));
                    });
                    forms += &format!("  int8 {ims:.3} ms ({:.1} GMAC/s)", macs / ims / 1e6);
                    if Simd::int8_products() {
                        (used, chosen) = (ims, "int8".to_string());
                    }
                }
                println!(
                    "{name:<10} {cin:>4} -> {cout:<4} {side:>2}x{side:<2} im2col {ms:.3} ms ({:.1} GMAC/s){forms}  runs {chosen}",
                    macs / ms / 1e6
                );
                total += ms;
                total_used += used;
                // Unpadded kernels (paper-table's 7x7) shrink the map.
                side = out_side;
            }
            LayerSpec::MaxPool2 => {
                let x = Tensor {
                    c: 32,
                    h: side,
                    w: side,
                    data: vec![0.5; 32 * side * side],
                };
                std::hint::black_box(max_pool2(&x));
                side /= 2;
            }
            LayerSpec::Dense { .. } => {}
        }
    }
    println!(
        "convolutions per plane: im2col {total:.3} ms, as inference runs them {total_used:.3} ms ({:.2}x)",
        total / total_used
    );
    // The whole pass as the classifier runs it: the gap to the line above is what the
    // pools, ReLUs, dense layers and allocations cost, and caches that no longer hold
    // the next layer's weights.
    let net = Network::from_safetensors(&random_safetensors(&arch, 1), "random weights")
        .expect("random weights load");
    let input: Vec<f32> = (0..arch.input * arch.input)
        .map(|i| (i % 11) as f32 * 0.1)
        .collect();
    let pass = median_ms(&mut || {
        std::hint::black_box(net.logits(input.clone()));
    });
    if Simd::products() != Products::F32 {
        println!(
            "whole pass (Network::logits): {pass:.3} ms in {} (each layer's figure above includes converting its map, which a pass does once)",
            Simd::products_name()
        );
    } else {
        println!(
            "whole pass (Network::logits): {pass:.3} ms, {:.3} ms outside the convolutions",
            pass - total_used
        );
    }
    // 64 images on this core: one pass each, or layer by layer over the batch (medians
    // of 7 rounds).
    let batch: Vec<Vec<f32>> = (0..64).map(|_| input.clone()).collect();
    // Alternating rounds, so the host's drift touches both sides alike.
    let (mut one_by_one, mut batched) = (vec![], vec![]);
    for _ in 0..7 {
        let t = Instant::now();
        for x in &batch {
            std::hint::black_box(net.logits(x.clone()));
        }
        one_by_one.push(t.elapsed().as_secs_f64() * 1000.0 / 64.0);
        let t = Instant::now();
        std::hint::black_box(net.logits_batch(batch.clone()));
        batched.push(t.elapsed().as_secs_f64() * 1000.0 / 64.0);
    }
    for times in [&mut one_by_one, &mut batched] {
        times.sort_by(|a, b| a.total_cmp(b));
    }
    let (one_by_one, batched) = (one_by_one[3], batched[3]);
    println!(
        "64 images: {one_by_one:.3} ms each one by one, {batched:.3} ms batched (Network::logits_batch, {:.2}x)",
        one_by_one / batched
    );
    // One image split over two threads (the live face) against one thread, alternating.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a two-thread pool");
    let (mut alone, mut split) = (vec![], vec![]);
    for _ in 0..7 {
        alone.push(median_ms(&mut || {
            std::hint::black_box(net.logits(input.clone()));
        }));
        split.push(pool.install(|| {
            median_ms(&mut || {
                std::hint::black_box(net.logits_split(input.clone(), 2));
            })
        }));
    }
    for times in [&mut alone, &mut split] {
        times.sort_by(|a, b| a.total_cmp(b));
    }
    println!(
        "one image: {:.3} ms on one thread, {:.3} ms split over two (Network::logits_split, {:.2}x)",
        alone[3],
        split[3],
        alone[3] / split[3]
    );
}
