"""ECS (2014-05-26): regions, instances and their RAM roles."""
