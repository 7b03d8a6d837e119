using SlmStudio.Core.Classification;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Classification;

/// <summary>What keeps the label phase from memorising its training phrasings: token dropout, and a stop rule that lets a still-learning model go on.</summary>
public class ClassifierRegularisationTests
{
    [Fact]
    public void Token_dropout_keeps_an_ordered_subset_of_at_least_one_token()
    {
        int[] ids = [.. Enumerable.Range(100, 20)];
        var random = new Random(7);
        Assert.Same(ids, ClassifierTrainer.DropTokens(ids, 0, random));
        int[] single = [5];
        Assert.Same(single, ClassifierTrainer.DropTokens(single, 0.9, random));

        var everything = ClassifierTrainer.DropTokens(ids, 1.0, random);
        Assert.Single(everything);
        Assert.Contains(everything[0], ids);

        var kept = 0;
        for (int i = 0; i < 500; i++)
        {
            var dropped = ClassifierTrainer.DropTokens(ids, 0.25, random);
            Assert.InRange(dropped.Length, 1, ids.Length);
            Assert.Equal(dropped.Order(), dropped);       // order kept (the input is ascending)
            Assert.Subset(ids.ToHashSet(), dropped.ToHashSet());
            Assert.Equal(dropped.Length, dropped.Distinct().Count());
            kept += dropped.Length;
        }
        Assert.InRange(kept / (500.0 * ids.Length), 0.70, 0.80); // about three in four tokens stay
    }

    [Fact]
    public void Training_goes_on_while_the_validation_loss_falls_and_keeps_the_surest_of_the_best_models()
    {
        var train = SyntheticIntents.Make(30, seed: 1);
        var validation = SyntheticIntents.Make(10, seed: 2);
        var tokenizer = new BpeTrainer(320).Train(train.Select(e => e.Text));
        var config = new LlamaConfig { VocabSize = tokenizer.VocabSize, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = 2, MaxPositions = 64 };
        using var model = new LlamaForSequenceClassification(config, SyntheticIntents.Labels);
        model.InitializeWeights(5);
        const int patience = 2;
        var result = new ClassifierTrainer(new ClassifierTrainingOptions { BatchSize = 16, MaxSteps = 300, EvaluateEvery = 10, Patience = patience, LearningRate = 3e-3 })
            .Train(model, ClassifierTrainer.Tokenize(tokenizer, train, model.Labels, 32), ClassifierTrainer.Tokenize(tokenizer, validation, model.Labels, 32));

        var evaluations = result.Evaluations;
        Assert.All(evaluations, e => Assert.True(double.IsFinite(e.ValidationLoss) && e.ValidationLoss > 0));
        // The synthetic labels are easy: the score saturates long before the model is sure of its answers.
        var firstBest = evaluations.First(e => e.Validation.MacroF1 >= evaluations.Max(x => x.Validation.MacroF1) - 1e-9);
        Assert.True(result.StoppedBecause == ClassifierStopReason.StepLimit || result.Steps > firstBest.Step + patience * 10,
            $"stopped at step {result.Steps}, only {patience} evaluations after the score first peaked at step {firstBest.Step}");

        // An early stop came only after `patience` evaluations that improved neither the score nor the loss.
        if (result.StoppedBecause == ClassifierStopReason.EarlyStopping)
        {
            var tail = evaluations.TakeLast(patience).ToList();
            var before = evaluations.Take(evaluations.Count - patience).ToList();
            Assert.All(tail, e => Assert.True(e.ValidationLoss >= before.Min(b => b.ValidationLoss) * 0.995 && e.Validation.MacroF1 <= before.Max(b => b.Validation.MacroF1) + 1e-9));
        }

        // Of the evaluations with the best score, the kept model is the one with the lowest validation loss.
        var bestF1 = evaluations.Max(e => e.Validation.MacroF1);
        var surest = evaluations.Where(e => e.Validation.MacroF1 >= bestF1 - 1e-9).MinBy(e => e.ValidationLoss)!;
        Assert.Equal(surest.Step, result.BestStep);
    }
}
