"""File contracts, one module each: atomic writes, the grasp dataset shards. Torch- and trimesh-free."""
