//! Runtime dispatch of the engine's own loops (Winograd's transforms) to the widest
//! vector extension the CPU has. The crate is built for baseline x86-64 (SSE2), so a
//! plain loop runs 4 lanes wide; run under [`vectorized`], the same code is compiled
//! again for AVX2 and for AVX-512 and the one this CPU supports is called. Rust does
//! not contract `a * b + c` into fused multiply-adds, so every level computes the same
//! floats: the tests compare them bit for bit against the baseline.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Set by [`Simd::prefer_products`]: a [`Products`] as its index.
static PREFERRED: AtomicU8 = AtomicU8::new(0);

/// How a network's products compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Products {
    /// f32 throughout: the library's default, what the PyTorch parity test checks.
    F32,
    /// Operands rounded to bf16 on AMX tiles, f32 sums, maps kept in bf16
    /// ([`super::TileStack`]).
    Bf16,
    /// After the first layer, `u8` maps and `i8` weights on AVX-512 VNNI or AVX2, exact
    /// `i32` sums ([`super::Int8Stack`]).
    Int8,
}

impl Products {
    const ALL: [Products; 3] = [Products::F32, Products::Bf16, Products::Int8];

    /// The fastest this CPU runs: bf16 where it has AMX, else 8 bits where it has AVX2
    /// (on AVX-512 VNNI where it has that), else f32. Each keeps the shipped model's
    /// PublicTest accuracy within 0.2 points of f32 (tests/bf16.rs, tests/int8.rs,
    /// tests/int8_avx2.rs).
    pub fn fastest() -> Products {
        [Products::Bf16, Products::Int8]
            .into_iter()
            .find(|p| p.runs_here())
            .unwrap_or(Products::F32)
    }

    /// Whether this CPU, at the level the engine runs, computes them.
    fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return match self {
            Products::F32 => true,
            Products::Bf16 => level() == Simd::Avx512 && super::amx::available(),
            Products::Int8 => super::Int8Stack::available(),
        };
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Products::F32
        }
    }
}

/// `MOODTUNE_PRECISION`, read once.
fn asked_precision() -> Option<Products> {
    static ASKED: OnceLock<Option<Products>> = OnceLock::new();
    *ASKED.get_or_init(|| {
        let value = std::env::var("MOODTUNE_PRECISION").ok()?;
        match value.trim().to_ascii_lowercase().as_str() {
            "bf16" => Some(Products::Bf16),
            "int8" => Some(Products::Int8),
            "f32" => Some(Products::F32),
            _ => None,
        }
    })
}

/// A vector extension level the engine's loops are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// What every x86-64 (or other) CPU runs: SSE2 on x86-64.
    Baseline,
    Avx2,
    Avx512,
}

impl Simd {
    /// The widest level this CPU supports, decided once.
    pub fn detected() -> Simd {
        static LEVEL: OnceLock<Simd> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                if has!("avx512f") && has!("avx2") && has!("fma") {
                    return Simd::Avx512;
                }
                if has!("avx2") && has!("fma") {
                    return Simd::Avx2;
                }
            }
            Simd::Baseline
        })
    }

    /// The level the engine runs at: [`Self::detected`], or a lower one named by the
    /// `MOODTUNE_SIMD` environment variable (`baseline`, `avx2`, `avx512`), which lets
    /// one machine time the paths a CPU with less would take. Decided once.
    pub fn active() -> Simd {
        static LEVEL: OnceLock<Simd> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let asked = std::env::var("MOODTUNE_SIMD").ok();
            Self::limited(asked.as_deref().and_then(Self::parse))
        })
    }

    /// [`Self::detected`], capped at `cap` when given.
    fn limited(cap: Option<Simd>) -> Simd {
        cap.map_or(Self::detected(), |cap| cap.min(Self::detected()))
    }

    /// A level from its `MOODTUNE_SIMD` spelling.
    pub fn parse(name: &str) -> Option<Simd> {
        match name.trim().to_ascii_lowercase().as_str() {
            "baseline" | "sse2" => Some(Simd::Baseline),
            "avx2" => Some(Simd::Avx2),
            "avx512" | "avx-512" => Some(Simd::Avx512),
            _ => None,
        }
    }

    /// How products compute: as `MOODTUNE_PRECISION` (`f32`, `bf16` or `int8`) says, or
    /// unset as the process chose ([`Self::prefer_products`]; f32 unless it did), where
    /// this CPU runs that (bf16 needs AMX tiles granted by the kernel and the AVX-512
    /// level, int8 the AVX2 level or above); f32 where it does not. Read at every
    /// product, so the choice may be made at any time.
    pub fn products() -> Products {
        let wanted = asked_precision()
            .unwrap_or_else(|| Products::ALL[usize::from(PREFERRED.load(Ordering::Relaxed))]);
        if wanted.runs_here() {
            wanted
        } else {
            Products::F32
        }
    }

    /// Whether [`Self::products`] are bf16 on AMX tiles.
    pub fn bf16_products() -> bool {
        Self::products() == Products::Bf16
    }

    /// Whether [`Self::products`] are 8-bit ([`super::Int8Stack`]).
    pub fn int8_products() -> bool {
        Self::products() == Products::Int8
    }

    /// What [`Self::products`] are, as the benchmark prints it.
    pub fn products_name() -> &'static str {
        match Self::products() {
            Products::F32 => "f32",
            Products::Bf16 => "bf16 on AMX tiles",
            Products::Int8 => super::Int8Stack::description(),
        }
    }

    /// Makes `products` this process's default where `MOODTUNE_PRECISION` is unset (the
    /// moodtune program's choice is [`Products::fastest`]).
    pub fn prefer_products(products: Products) {
        let index = Products::ALL
            .iter()
            .position(|&p| p == products)
            .expect("listed");
        PREFERRED.store(index as u8, Ordering::Relaxed);
    }

    /// Every level this CPU can run, baseline first.
    pub fn available() -> Vec<Simd> {
        [Simd::Baseline, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|&level| level <= Simd::detected())
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Simd::Baseline => "baseline",
            Simd::Avx2 => "AVX2",
            Simd::Avx512 => "AVX-512",
        }
    }
}

#[cfg(test)]
thread_local! {
    /// A test's choice of level for this thread (at most [`Simd::detected`]).
    static FORCED: std::cell::Cell<Option<Simd>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` on this thread with `vectorized!` methods at `level` (tests only).
#[cfg(test)]
pub(crate) fn at_level<R>(level: Simd, f: impl FnOnce() -> R) -> R {
    assert!(level <= Simd::detected(), "this CPU lacks {}", level.name());
    FORCED.with(|forced| forced.set(Some(level)));
    let result = f();
    FORCED.with(|forced| forced.set(None));
    result
}

/// The level `vectorized!` methods run at: [`Simd::active`], or a test's choice.
#[inline(always)]
pub(crate) fn level() -> Simd {
    #[cfg(test)]
    return FORCED
        .with(|forced| forced.get())
        .unwrap_or_else(Simd::active);
    #[cfg(not(test))]
    Simd::active()
}

/// `fn name(&self, args) -> R = body;` defines method `name`, which runs the
/// `#[inline(always)]` method `body` compiled for the widest level this CPU has: `body`
/// is inlined into one function per level, each built with that level's target
/// features, and [`level`] picks which one runs.
macro_rules! vectorized {
    ($(#[$meta:meta])* $vis:vis fn $name:ident(&self: $self_ty:ty $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)? = $body:ident;) => {
        $(#[$meta])*
        $vis fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512(this: &$self_ty $(, $arg: $ty)*) $(-> $ret)? {
                this.$body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(this: &$self_ty $(, $arg: $ty)*) $(-> $ret)? {
                this.$body($($arg),*)
            }
            match $crate::nn::simd::level() {
                // Safety: the level is at most what the CPU was detected to support.
                #[cfg(target_arch = "x86_64")]
                $crate::nn::Simd::Avx512 => unsafe { avx512(self $(, $arg)*) },
                #[cfg(target_arch = "x86_64")]
                $crate::nn::Simd::Avx2 => unsafe { avx2(self $(, $arg)*) },
                _ => self.$body($($arg),*),
            }
        }
    };
}
pub(crate) use vectorized;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asked_level_is_parsed_and_capped_at_what_the_cpu_has() {
        assert_eq!(Simd::parse("AVX2"), Some(Simd::Avx2));
        assert_eq!(Simd::parse(" avx512 "), Some(Simd::Avx512));
        assert_eq!(Simd::parse("baseline"), Some(Simd::Baseline));
        assert_eq!(Simd::parse("neon"), None);
        assert_eq!(Simd::limited(None), Simd::detected());
        assert_eq!(Simd::limited(Some(Simd::Baseline)), Simd::Baseline);
        assert_eq!(Simd::limited(Some(Simd::Avx512)), Simd::detected());
        assert!(Simd::limited(Some(Simd::Avx2)) <= Simd::Avx2);
    }
}
