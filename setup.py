"""Build hook: an installed wheel carries the playbooks as agent/builtin_playbooks (they live at the top)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithPlaybooks(build_py):
    """Copy playbooks/ into the built package, so a non-editable install finds them."""

    def run(self) -> None:
        super().run()
        source = Path(__file__).parent / "playbooks"
        if source.is_dir():
            shutil.copytree(source, Path(self.build_lib) / "agent" / "builtin_playbooks", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithPlaybooks})
