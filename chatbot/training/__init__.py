"""The training wing: everything that turns a corpus into trained weights.
Nothing outside it imports it except the `train` and `shards` commands, the
ablation (which batches like training) and the scripts; chatting, evaluation
and export read a finished model folder without it.

    loop.py         train(): prepare or reopen a model folder, run epochs,
                    validate, stop early, register the model (read this first)
    steps.py        Trainer: the model, its optimizer and the compiled steps
    streams.py      conversations -> windows of whole conversations
    train_state.py  TrainState, what a checkpoint holds beside its tensors
    budget.py       will a window fit in memory? (checked before the first step)
    average.py      the running average of the weights that chat uses
    optim.py        Adam with one fused update
    distribute.py   tf.distribute strategies, replicas and their shares
    shards.py       TFRecord shards, a corpus read without the store

Importing the package imports none of them (the evaluation wing batches with
streams.py alone).
"""
