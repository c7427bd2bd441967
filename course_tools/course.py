"""Where the course lives: the one place to change when the repository moves.

After editing ``REPO_SLUG`` or ``BRANCH``, run ``make fmt``: it re-stamps the
Colab / GitHub buttons and the Colab bootstrap cell of every notebook.
"""

REPO_SLUG = "dip-course/deep-image-prior-course"
BRANCH = "main"
#: folder Colab clones the course into
COLAB_DIR = "/content/deep-image-prior-course"


def github_url(path: str = "") -> str:
    """Web address of ``path`` (relative to the repository root) on GitHub."""
    base = f"https://github.com/{REPO_SLUG}"
    return f"{base}/blob/{BRANCH}/{path}" if path else base


def colab_url(path: str) -> str:
    """Address that opens the notebook at ``path`` in Google Colab."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}/{path}"


def clone_url() -> str:
    """What ``git clone`` needs to fetch the course."""
    return f"https://github.com/{REPO_SLUG}.git"
