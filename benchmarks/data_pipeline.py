"""Images per second of the training input, decoding files vs reading the cache.

    SELFIESEG_DATA=../shared/data .venv/bin/python benchmarks/data_pipeline.py --count 400
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="PFCN train images to use")
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args(argv)

    from selfieseg.data import open_dataset
    from selfieseg.data.pipeline import SegmentationSequence, build_cache

    reader = open_dataset("pfcn", split="train").subset(range(args.count))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cache = build_cache(reader, Path(tmp) / "c", size=(256, 256), progress=False)
        built = time.perf_counter() - start
        print(f"cache of {len(cache)} PFCN images at 256x256 built in {built:.1f} s")
        for augment in (False, True):
            rates = []
            for source in (reader, cache):
                sequence = SegmentationSequence(source, batch_size=16, size=args.size, augment=augment or None)
                start = time.perf_counter()
                for batch in range(len(sequence)):
                    sequence[batch]
                rates.append(len(sequence.indices) / (time.perf_counter() - start))
            print(f"augment={augment!s:5s}: {rates[0]:7.1f} img/s from files, {rates[1]:7.1f} img/s from the cache "
                  f"({rates[1] / rates[0]:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
