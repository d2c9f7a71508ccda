"""What telequeue adds to Flower: the Jobs tab (/jobs), its JSON API (/api/jobs, uploads
included), and Flower's credentials on every path but /healthcheck (/metrics included).

`install()` is called by workers.app when the process runs Flower's command; see hook.py.
"""

from workers.flower.hook import install

__all__ = ["install"]
