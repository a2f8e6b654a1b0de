"""The app's lifespan: what it sets up for the process while the service runs, and gives back at shutdown."""

from __future__ import annotations

import gc

import pytest

from salesboost.api import create_app
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor


@pytest.mark.parametrize("freeze", [True, False])
async def test_the_start_up_objects_stay_out_of_full_collections_while_serving(
    sample_settings: Settings, sample_executor: ToolExecutor, freeze: bool
) -> None:
    app = create_app(sample_settings.model_copy(update={"gc_freeze": freeze}), executor=sample_executor)
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
    # The modules, schemas and registry alone are tens of thousands of objects.
    assert (frozen > 10_000) is freeze
    assert gc.get_freeze_count() == 0
