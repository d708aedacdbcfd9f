"""Real X-ray files for the benchmarks: the shared sample, repeated to N files."""

from pathlib import Path

#: The 16 full-size JPEGs shared beside the project.
SAMPLE_XRAYS = Path(__file__).resolve().parents[2] / "shared/data/chest_xray_sample"


def repeat_files(sources, n, folder):
    """Return ``n`` paths in ``folder``, symbolic links cycling over ``sources``."""
    paths = []
    for i in range(n):
        link = Path(folder) / f"{i:05d}.jpeg"
        link.symlink_to(sources[i % len(sources)])
        paths.append(str(link))
    return paths
