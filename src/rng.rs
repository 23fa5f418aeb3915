//! The seeded random number generator used for noise, fake labels, dropout and
//! initialisation, and its saveable state.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The generator every random draw in this crate comes from: ChaCha8, seeded from a `u64`.
///
/// It is portable (the same seed gives the same stream on every platform) and its position
/// can be saved and restored exactly, which is what makes resumed training identical to
/// uninterrupted training.
pub type Rng = ChaCha8Rng;

/// Creates the crate's generator from a seed.
pub fn seeded(seed: u64) -> Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The exact position of an [`Rng`], as stored in checkpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 256-bit key, as 64 hex digits.
    pub key: String,
    /// The stream number.
    pub stream: u64,
    /// The position in the stream in 32-bit words, in decimal (it can exceed `u64`).
    pub word_pos: String,
}

impl RngState {
    /// Captures the state of `rng`.
    pub fn of(rng: &Rng) -> Self {
        let key = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        Self {
            key,
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    /// Rebuilds the generator at exactly this position, or says which field is malformed.
    pub fn restore(&self) -> std::result::Result<Rng, String> {
        if self.key.len() != 64 || !self.key.is_ascii() {
            return Err(format!(
                "rng key must be 64 hex digits, found {:?}",
                self.key
            ));
        }
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            let pair = &self.key[2 * i..2 * i + 2];
            *byte = u8::from_str_radix(pair, 16)
                .map_err(|_| format!("rng key has a non-hex pair {pair:?}"))?;
        }
        let word_pos: u128 = self
            .word_pos
            .parse()
            .map_err(|_| format!("rng word_pos is not a number: {:?}", self.word_pos))?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn restored_generator_continues_the_same_stream() {
        let mut rng = seeded(7);
        for _ in 0..13 {
            rng.next_u32();
        }
        let state = RngState::of(&rng);
        let mut restored = state.restore().expect("valid state");
        let a: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        let b: Vec<u64> = (0..5).map(|_| restored.next_u64()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn malformed_state_is_refused() {
        let mut state = RngState::of(&seeded(1));
        state.key.replace_range(0..2, "zz");
        assert!(state.restore().unwrap_err().contains("non-hex"));
    }
}
