"""The tables, as SQLAlchemy Core metadata. Migrations (``store/migrations``) create them;
a test checks that the migrated database matches this metadata exactly."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("created_at", String(20), nullable=False),
)

# A key with a NULL user_id is the account's root key.
access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("access_key_secret", String(128), nullable=False),
    Column("account_id", String(16), ForeignKey("accounts.account_id"), nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", String(20), nullable=False),
)
Index("ix_access_keys_account_user", access_keys.c.account_id, access_keys.c.user_id)

# Replay protection: one row per (AccessKey, nonce) for as long as its timestamp could still
# pass the window check; pruned by expiry.
nonces = Table(
    "nonces",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_nonces_expires_at", nonces.c.expires_at)

# The generation of the AccessKeys and users: one row, bumped by a trigger on every change to
# either table (migration 0009), so that a process may cache keys and know when it must not.
credential_generation = Table(
    "credential_generation",
    metadata,
    Column("singleton", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)

# Process-independent settings: the token-signing secret, the test clock offset.
server_settings = Table(
    "server_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# RAM roles. Names are unique per account regardless of case; ``role_name_key`` is the lower-cased
# name that lookups and the constraint use, ``role_name`` keeps the spelling it was created with.
roles = Table(
    "roles",
    metadata,
    Column("role_id", String(32), primary_key=True),
    Column("account_id", String(16), ForeignKey("accounts.account_id"), nullable=False),
    Column("role_name", String(64), nullable=False),
    Column("role_name_key", String(64), nullable=False),
    Column("description", String(1024), nullable=False),
    Column("assume_role_policy", Text, nullable=False),
    Column("max_session_duration", Integer, nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
    UniqueConstraint("account_id", "role_name_key", name="uq_roles_account_name"),
)

# ECS instances, with their RAM role binding in the same row: "at most one role per instance"
# is then a conditional UPDATE of one row (``... WHERE ram_role_name IS NULL``), which both
# SQLite and PostgreSQL make atomic.
instances = Table(
    "instances",
    metadata,
    Column("instance_id", String(32), primary_key=True),
    Column("account_id", String(16), ForeignKey("accounts.account_id"), nullable=False),
    Column("region_id", String(32), nullable=False),
    Column("zone_id", String(32), nullable=False),
    Column("instance_name", String(128), nullable=False),
    Column("description", String(256), nullable=False),
    Column("host_name", String(64), nullable=False),
    Column("image_id", String(128), nullable=False),
    Column("instance_type", String(64), nullable=False),
    Column("network_type", String(16), nullable=False),
    Column("vpc_id", String(64), nullable=True),
    Column("vswitch_id", String(64), nullable=True),
    Column("private_ip", String(45), nullable=False),
    Column("status", String(16), nullable=False),
    Column("http_endpoint", String(16), nullable=False),
    Column("http_tokens", String(16), nullable=False),
    Column("http_put_response_hop_limit", Integer, nullable=False),
    Column("created_at", String(20), nullable=False),
    # Migration 0004: what real tools read of an instance (DescribeInstanceAttribute, DescribeDisks,
    # DescribeNetworkInterfaces, DescribeUserData, the metadata items).
    Column("started_at", String(20), nullable=True),
    Column("user_data", Text, nullable=True),
    Column("mac_address", String(17), nullable=False),
    Column("serial_number", String(36), nullable=False),
    Column("network_interface_id", String(32), nullable=False),
    Column("system_disk_id", String(32), nullable=False),
    Column("system_disk_category", String(32), nullable=False),
    Column("system_disk_size", Integer, nullable=False),
    Column("vpc_cidr", String(18), nullable=True),
    Column("vswitch_cidr", String(18), nullable=True),
    Column("resource_group_id", String(64), nullable=False),
    Column("key_pair_name", String(128), nullable=True),
    Column("security_group_ids", Text, nullable=False),
    Column("instance_charge_type", String(16), nullable=False),
    Column("cpu", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("os_name", String(128), nullable=False),
    Column("os_type", String(16), nullable=False),
    Column("password_set", Boolean, nullable=False),
    Column("deletion_protection", Boolean, nullable=False),
    Column("ram_role_name", String(64), nullable=True),
    Column("ram_role_policy", Text, nullable=True),
    Column("ram_role_attached_at", String(20), nullable=True),
)
# Listing an account's instances in a region, in stable (InstanceId) order, a page at a time.
Index("ix_instances_account_region", instances.c.account_id, instances.c.region_id, instances.c.instance_id)
# DescribeDisks / DescribeNetworkInterfaces by ID.
Index("ix_instances_system_disk", instances.c.account_id, instances.c.region_id, instances.c.system_disk_id)
Index(
    "ix_instances_network_interface",
    instances.c.account_id,
    instances.c.region_id,
    instances.c.network_interface_id,
)
# DescribeInstanceRamRole by role: only bound instances are indexed.
Index(
    "ix_instances_role",
    instances.c.account_id,
    instances.c.region_id,
    instances.c.ram_role_name,
    instances.c.instance_id,
    sqlite_where=instances.c.ram_role_name.isnot(None),
    postgresql_where=instances.c.ram_role_name.isnot(None),
)

# ClientToken idempotency: the first request with a token records its fingerprint and result;
# a repeat with the same parameters gets the same result, with different ones an error.
client_tokens = Table(
    "client_tokens",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("action", String(64), primary_key=True),
    Column("client_token", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("result", Text, nullable=True),
    Column("created_at", String(20), nullable=False),
)

# RAM users. Like roles, names are unique per account regardless of case.
users = Table(
    "users",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("account_id", String(16), ForeignKey("accounts.account_id"), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("user_name_key", String(64), nullable=False),
    Column("display_name", String(128), nullable=False),
    Column("mobile_phone", String(32), nullable=False),
    Column("email", String(128), nullable=False),
    Column("comments", String(128), nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
    UniqueConstraint("account_id", "user_name_key", name="uq_users_account_name"),
)

# Custom policies and their versions (system policies are data in the package, not rows).
policies = Table(
    "policies",
    metadata,
    Column("account_id", String(16), ForeignKey("accounts.account_id"), primary_key=True),
    Column("policy_name_key", String(128), primary_key=True),
    Column("policy_name", String(128), nullable=False),
    Column("description", String(1024), nullable=False),
    Column("default_version", String(16), nullable=False),
    # Version IDs are never reused: v1, v2, ... even after a version is deleted.
    Column("next_version", Integer, nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("policy_name_key", String(128), primary_key=True),
    Column("version_id", String(16), primary_key=True),
    Column("document", Text, nullable=False),
    Column("created_at", String(20), nullable=False),
)

# Which policies are attached to which users, groups and roles (by entity ID, so renames keep them).
policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("principal_type", String(8), primary_key=True),
    Column("principal_id", String(32), primary_key=True),
    Column("policy_type", String(8), primary_key=True),
    Column("policy_name_key", String(128), primary_key=True),
    Column("attached_at", String(20), nullable=False),
)
Index(
    "ix_policy_attachments_policy",
    policy_attachments.c.account_id,
    policy_attachments.c.policy_type,
    policy_attachments.c.policy_name_key,
)

# RAM user groups and their members.
groups = Table(
    "groups",
    metadata,
    Column("account_id", String(16), ForeignKey("accounts.account_id"), primary_key=True),
    Column("group_name_key", String(64), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("group_name", String(64), nullable=False),
    Column("comments", String(128), nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("group_id", String(32), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("joined_at", String(20), nullable=False),
)
Index("ix_group_members_user", group_members.c.user_id)

# Tags on ECS instances (``instance``, by InstanceId) and RAM roles (``role``, by RoleId): one row
# per (resource, key). Deleting a resource deletes its tags.
tags = Table(
    "tags",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("resource_type", String(16), primary_key=True),
    Column("resource_id", String(32), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)
# Finding the resources that carry a tag (tag filters of DescribeInstances and ListTagResources).
Index("ix_tags_key_value", tags.c.account_id, tags.c.resource_type, tags.c.tag_key, tags.c.tag_value)

# Fault injection rules (see docs/faults.md): which calls they match (account, action glob,
# product, instance) and what happens to them (an error, added latency, a dropped connection),
# how often (a probability, or the next ``remaining`` calls) and until when.
fault_rules = Table(
    "fault_rules",
    metadata,
    Column("rule_id", String(32), primary_key=True),
    Column("account_id", String(16), nullable=True),
    Column("action", String(128), nullable=False),
    Column("product", String(16), nullable=True),
    Column("instance_id", String(64), nullable=True),
    Column("effect", String(8), nullable=False),
    Column("code", String(64), nullable=True),
    Column("status", Integer, nullable=True),
    Column("message", String(512), nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("probability", Float, nullable=True),
    Column("remaining", Integer, nullable=True),
    Column("expires_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
)

# Emulated throttling (``--throttle``): one token bucket per (AccessKey, action).
throttle_buckets = Table(
    "throttle_buckets",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("action", String(128), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
# The audit trail (ActionTrail LookupEvents, ``ecsram trail``): one row per API call or metadata
# credential fetch, holding only what cannot be derived; the event document LookupEvents returns
# is rebuilt from it when it is read (store/trail.py). ``event_time`` is in milliseconds. ``seq``
# numbers events in the order they were written (on SQLite it is the rowid, so the table's own
# B-tree): retention prunes the oldest by it and ``ecsram trail`` reads in its order. One index,
# per account by time (lookups order by time and ID); a lookup by event name, AccessKey or
# resource searches the blocks that trail_blocks' filters point to.
trail_events = Table(
    "trail_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("account_id", String(16), nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("service_name", String(32), nullable=False),
    # 0 root account, 1 RAM user, 2 assumed role; +4 for a credential fetch through the metadata service
    Column("kind", Integer, nullable=False),
    Column("access_key_id", String(128), nullable=False),
    Column("principal_id", String(256), nullable=True),  # NULL for the root account (its account ID)
    Column("user_name", String(256), nullable=True),  # NULL for the root account ("root")
    Column("source_ip", String(64), nullable=False),
    Column("user_agent", String(512), nullable=False),
    Column("region", String(64), nullable=True),
    Column("resource_names", Text, nullable=True),  # as on the wire: "name;name"
    Column("resource_types", Text, nullable=True),  # as on the wire: "ACS::RAM::Role;ACS::ECS::Instance"
    Column("request_parameters", Text, nullable=True),  # JSON, writes only
    Column("status", Integer, nullable=False),
    Column("error_code", String(128), nullable=True),
    Column("error_message", Text, nullable=True),
)
Index("ix_trail_events_account_time", trail_events.c.account_id, trail_events.c.event_time)

# The resource names, event names and AccessKeys of each block of ``seq`` numbers, as a Bloom filter
# (store/trail.py): a lookup by one of them reads the filters and searches only the blocks that
# may hold it. A block is summarised once every event it can hold has committed, so an event
# costs no write beyond its row and one index entry, and none keyed by name (scattered over the
# pages of a B-tree).
trail_blocks = Table(
    "trail_blocks",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),  # seq // trail.BLOCK_EVENTS
    Column("bloom", LargeBinary, nullable=False),  # empty when no event of the block named a resource
    # The block's earliest and latest event times (NULL when it has no event): a lookup reads the
    # filters of the blocks that overlap its time window only.
    Column("min_time", BigInteger, nullable=True),
    Column("max_time", BigInteger, nullable=True),
)
