"""Check descriptions of a VM that should run the course web service: the names lessons call.

Why this module: the VM assignment's test cells, and the lesson's "check it yourself"
cells, need to say what is wrong with a learner's cloud-init user-data, startup script or
``gcloud compute instances create`` command, before they spend money booting a VM that
would never serve anything. Each validator returns a list of problems in plain words (an
empty list means no problems found), each saying what to fix, so a learner is never left
with a bare ``False``. Nothing here talks to Google Cloud.

This is the one name learners import (``vm_checks.check_user_data`` and the others are what
the lesson and assignment 1 tell them to call); each check lives in the module for its job:
:mod:`labkit.vm_user_data_checks` (user-data, startup script), :mod:`labkit.vm_gcloud_checks`
(the ``gcloud`` command) and :mod:`labkit.vm_serving_checks` (would it serve the app).
Building the reference descriptions is :mod:`labkit.vm_provisioning`'s job.
"""
from __future__ import annotations

from labkit.vm_gcloud_checks import GCLOUD_FLAGS, NO_CLOUD_INIT_IMAGE_PROJECTS, check_gcloud_command
from labkit.vm_serving_checks import serves_webapp
from labkit.vm_user_data_checks import check_startup_script, check_user_data, schema_check_available

__all__ = [
    "GCLOUD_FLAGS",
    "NO_CLOUD_INIT_IMAGE_PROJECTS",
    "schema_check_available",
    "check_user_data",
    "check_startup_script",
    "check_gcloud_command",
    "serves_webapp",
]
