"""JHOD Grasp Studio for Blender: hand grasps on any mesh (GPL-3.0-or-later).

A thin layer over jhod_core (glTF-Blender-IO style): Blender data in, NumPy in jhod_core, Blender
data out. Extension id `jhod_grasp`; imports are relative so it works as bl_ext.<repo>.jhod_grasp.
"""

from . import character, conditioning, editing, operators, preferences, ui

_modules = (preferences, operators, editing, conditioning, character, ui)


def register():
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()
