"""nbgrader settings for the instructor's view only (`make lab-instructor`).

`make lab-instructor` puts this folder on JUPYTER_CONFIG_PATH, so these settings
add to the course's own nbgrader_config.py (which wins where both set something).
The exchange, where `nbgrader release_assignment` puts assignments and `collect`
finds submissions, is a folder of this course (gitignored) rather than the
system-wide /srv/nbgrader/exchange, which needs root to create.
"""

from pathlib import Path

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

COURSE_ROOT = Path(__file__).resolve().parents[2]
c.Exchange.root = str(COURSE_ROOT / ".exchange")
