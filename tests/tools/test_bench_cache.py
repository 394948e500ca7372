"""The cache benchmark's generated corpora: the sizes asked for, line-aligned pairs, and configs that read them."""

from seqexp.run.build import build_data
from seqexp.tools.bench.cache import generate


def test_generated_corpora_have_the_asked_sizes_and_read_through_the_cache(tmp_path, make_cfg):
    lm = generate("lm", 1000, tmp_path)
    parallel = generate("parallel", 1000, tmp_path)
    assert len((tmp_path / "lm-1000.txt").read_text().splitlines()) == 1000
    sources, targets = ((tmp_path / f"parallel-1000.{side}").read_text().splitlines() for side in ("src", "tgt"))
    assert len(sources) == len(targets) == 500 and all(4 <= len(s.split()) <= 20 for s in sources)
    assert generate("lm", 1000, tmp_path) == lm  # written once
    data = build_data(make_cfg(*lm, f"data.cache_dir={tmp_path}/cache"))
    assert sum(len(s) for s in data.streams.values()) > 1000 * 4  # words and an <eos> a line
    data = build_data(make_cfg(*parallel, f"data.cache_dir={tmp_path}/cache"))
    assert sum(len(d) for d in data.datasets.values()) == 500
