"""Templates for Flower's app: the Jobs tab's own, and Flower's with a Jobs link in its navbar.

Installed as Tornado's `template_loader` application setting, so Flower's pages and ours
share one loader: a name is looked up in workers/flower/templates/ first, then in Flower's
template folder. Flower's navbar.html gets our `navbar_jobs.html` item before the end of
its first list of tabs; a Flower whose navbar no longer has that shape simply shows no
Jobs link in its own pages (the Jobs pages still work and carry their own link).
"""

from __future__ import annotations

from pathlib import Path

from tornado import template

OWN_DIR = Path(__file__).with_name("templates")
NAVBAR = "navbar.html"
TAB_LIST_END = b"</ul>"


class Loader(template.Loader):
    def __init__(self, flower_dir: str, **kwargs) -> None:
        super().__init__(flower_dir, **kwargs)

    def _create_template(self, name: str) -> template.Template:
        own = OWN_DIR / name
        path = own if own.is_file() else Path(self.root) / name
        source = path.read_bytes()
        if name == NAVBAR and path != own:
            source = with_jobs_tab(source)
        return template.Template(source, name=name, loader=self)


def with_jobs_tab(navbar: bytes) -> bytes:
    item = (OWN_DIR / "navbar_jobs.html").read_bytes()
    at = navbar.find(TAB_LIST_END)
    return navbar if at < 0 else navbar[:at] + item + navbar[at:]
