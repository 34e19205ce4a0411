"""Write offline.html, the page `dvc plots show` fills, with vega, vega-lite and vega-embed inlined.

DVC's own page loads the three libraries from a CDN, so its plots are blank without a network.
Run from this folder, with the npm tarballs of the versions named in README.md:

    npm pack vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0
    python build_template.py vega-5.33.1.tgz vega-lite-5.23.0.tgz vega-embed-6.29.0.tgz
"""

import re
import sys
import tarfile
from pathlib import Path

# DVC fills the page by replacing these strings anywhere in it (dvc_render.html.HTML.embed).
# {scripts} is left out on purpose: DVC puts its CDN <script> tags there.
PLOTS = "{plot_divs}"
DVC_PLACEHOLDERS = ("{scripts}", PLOTS, "{refresh_tag}")

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot</title>
{libraries}
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def library(tarball: Path) -> str:
    """The minified UMD build of one npm package, as an inline <script>."""
    with tarfile.open(tarball) as archive:
        package = archive.extractfile("package/package.json").read().decode()
        name = re.search(r'"name":\s*"([^"]+)"', package).group(1)
        version = re.search(r'"version":\s*"([^"]+)"', package).group(1)
        code = archive.extractfile(f"package/build/{name}.min.js").read().decode()
    # The source maps are not shipped; a browser's developer tools would try to fetch them.
    code = re.sub(r"\n?//# sourceMappingURL=\S+\s*$", "", code)
    if "</script" in code.lower() or any(p in code for p in DVC_PLACEHOLDERS):
        raise SystemExit(f"{tarball}: its code would end the inline <script> or be rewritten by DVC")
    return f"    <!-- {name} {version} (BSD-3-Clause) -->\n    <script>{code}</script>"


def main(tarballs: list[str]) -> None:
    libraries = "\n".join(library(Path(t)) for t in tarballs)
    page = PAGE.replace("{libraries}", libraries)
    Path(__file__).with_name("offline.html").write_text(page, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
