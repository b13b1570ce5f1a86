import itertools
import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

_worlds = itertools.count()


@pytest.fixture
def world():
    """A fresh, empty esper world for the test; deleted afterwards."""
    import esper

    name = f"test-{next(_worlds)}"
    previous = esper.current_world
    esper.switch_world(name)
    yield name
    esper.switch_world(previous)
    esper.delete_world(name)
