"""Floor 8, the stage adapters: the only code that knows Snakemake.

Each module adapts one library module to the rules that use it; its functions are named
after those rules and take ``inputs``, ``outputs``, ``params`` (plain dicts) and ``threads``.
They turn params into typed settings, files into library calls, and results into files.
A wrapper ``workflow/scripts/<rule>.py`` imports its function and hands it to
:func:`.runner.run_stage`; the rule's ``pkg("vocalmix.stages.<module>")`` inputs list the
package sources that module imports, so editing a library module reruns exactly its rules.

=====================  ===============================================  ========================
module                 rules                                            library
=====================  ===============================================  ========================
demo                   make_demo_corpus                                 corpus.demo
ingest                 ingest (checkpoint)                              corpus.ingest
overview               corpus_overview                                  corpus.overview
separator              train_separator                                  separation.training
separate               separate                                         separation.api
heldout                separate_heldout                                 separation.heldout
separation_quality     separation_quality                               separation.quality
features               extract_features                                 features.extract
summary                summarise_features                               features.summary
genre_features         genre_features                                   features.genre_features
genre                  train_genre_classifier, predict_genres           models.genre
corrupt                corrupt, corrupt_extra                           dsp.corruption
dataset                build_dataset                                    models.dataset
train                  train_model                                      models.train
systems                evaluate_models                                  evaluation.systems
render                 excerpt, render, render_index                    evaluation.render
objective              evaluate_track, evaluate                         evaluation.objective
export                 export_waet                                      listening.export
simulate               simulate_listeners                               listening.simulate
ratings                import_ratings                                   listening.results
analysis               analyse_ratings                                  stats.analysis
=====================  ===============================================  ========================

Keep this file free of imports.
"""
