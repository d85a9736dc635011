"""dockuni.fleet: scan many images at once and summarise how ready the fleet is for each target.

Public API::

    from transpile.fleet import ScanOptions, read_manifest, scan
    result = scan(read_manifest("fleet.yaml"), ScanOptions(output="scan-out"))
    result.document["totals"]["ready"]

Each image runs the ordinary conversion (``pipeline.convert``) into its own folder; its record is read
back from that folder's report.json, so a scan says exactly what a per-image ``dockuni convert`` says.
"""

from transpile.fleet.manifest import ImageSpec, discover_tree, engine_images, read_manifest
from transpile.fleet.runner import ScanOptions, ScanResult, scan

__all__ = [
    "ImageSpec",
    "ScanOptions",
    "ScanResult",
    "discover_tree",
    "engine_images",
    "read_manifest",
    "scan",
]
