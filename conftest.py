# Makes the project's packages importable when pytest runs from the repository root.
