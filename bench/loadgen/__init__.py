"""Load generators: wrk with a Lua walker, and an asyncio client; both send pre-signed request files."""

from bench.loadgen.common import GENERATORS, LoadResult, LoadSpec, run_load

__all__ = ["GENERATORS", "LoadResult", "LoadSpec", "run_load"]
