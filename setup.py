"""Builds the optional C extension sfu._fanout; pyproject.toml holds everything else.

optional=True: where it cannot be compiled, the install still succeeds and sfu.fanout uses its
Python reference implementation (`make test` sets VILOKANAM_REQUIRE_NATIVE=1, so CI notices).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sfu._fanout",
            ["sfu/_fanout.c"],
            optional=True,
            extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
