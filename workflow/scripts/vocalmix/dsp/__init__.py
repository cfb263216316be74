"""Floor 2, signal processing: the effects every system shares (pedalboard).

Effect settings with units in their names (:mod:`.effects`), the project's reverb
(:mod:`.reverb`), pitch correction (:mod:`.pitch`), the :class:`~.recipe.MixRecipe` that a
mixing system chooses and the one chain that renders it (:mod:`.chain`), and the synthetic
corruption of processed vocals (:mod:`.corruption`). Keep this file free of imports.
"""
