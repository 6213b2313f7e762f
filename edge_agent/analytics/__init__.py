"""Pure analytics over detections: tracking, counting lines, zones, interval aggregation."""
