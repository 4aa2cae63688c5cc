"""What several test files share: real CLI processes, scene files, disk snapshots, images."""
