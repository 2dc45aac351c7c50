"""pdlib: Parkinson's disease severity from videos (Yin et al., IEEE JBHI 2022), as a library.

Submodules are imported on demand (`pdlib.models`, `pdlib.data`, ...) so `import pdlib` stays cheap.
"""

__version__ = "0.1.0"
