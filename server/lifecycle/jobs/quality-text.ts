/**
 * The held-out text a GGUF quantization is measured on when the job names no dataset: plain English prose
 * written for Enclave (not taken from any training set), short enough to score in seconds on a CPU. It
 * checks that quantization did not break the model; a dataset of the model's own domain measures more.
 */
export const BUNDLED_QUALITY_TEXT = [
  'Once upon a time, there was a little girl named Lily. She liked to play in the garden behind her house.',
  'One day, Lily saw a small bird sitting on the fence. The bird looked sad because it could not find its mother.',
  'Lily said, "Do not worry, little bird. I will help you." She looked under the big tree and behind the bushes.',
  'Soon she heard a sound from the top of the tree. It was the mother bird! The little bird flew up to her.',
  'The mother bird sang a happy song. Lily smiled and waved goodbye. Then she went inside to tell her mom about her day.',
  'Her mom gave her a big hug and said, "You were very kind today." Lily felt warm and happy, and that night she slept well.',
].join(' ');
