using SlmStudio.Core.Classification;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Classification;

public class SequenceClassifierTests
{
    private static LlamaConfig TinyConfig(int vocab) => new()
    {
        VocabSize = vocab, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, MaxPositions = 64,
    };

    private static LlamaForSequenceClassification Classifier(ClassifierPooling pooling, long seed = 3)
    {
        var model = new LlamaForSequenceClassification(TinyConfig(50), ["a", "b", "c"], pooling);
        model.InitializeWeights(seed);
        model.eval();
        return model;
    }

    [Fact]
    public void Parameters_carry_hugging_face_names()
    {
        var names = Classifier(ClassifierPooling.Mean).named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal([3L, 32L], names["score.weight"]);
        Assert.Equal([50L, 32L], names["model.embed_tokens.weight"]);
        Assert.Contains("model.layers.1.self_attn.q_proj.weight", names.Keys);
        Assert.DoesNotContain(names.Keys, n => n.StartsWith("lm_head", StringComparison.Ordinal) || n.Contains("bias", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(ClassifierPooling.Mean)]
    [InlineData(ClassifierPooling.LastToken)]
    public void A_right_padded_batch_gives_each_text_the_logits_it_has_alone(ClassifierPooling pooling)
    {
        var model = Classifier(pooling);
        int[][] texts = [[5, 6, 7, 8, 9], [11, 12], [20, 21, 22]];
        var (ids, mask) = ClassifierTrainer.Pad(texts, padId: 0, CPU);
        Assert.Equal([3L, 5L], ids.shape);
        Assert.Equal([1L, 1, 0, 0, 0], mask[1].data<long>().ToArray());
        using var batched = model.Probabilities(ids, mask);
        for (int i = 0; i < texts.Length; i++)
        {
            var (alone, aloneMask) = ClassifierTrainer.Pad([texts[i]], 0, CPU);
            using var single = model.Probabilities(alone, aloneMask);
            Assert.True(single[0].allclose(batched[i], rtol: 1e-4, atol: 1e-5), $"text {i}: {single[0].ToString(TorchSharp.TensorStringStyle.Julia)} vs {batched[i].ToString(TorchSharp.TensorStringStyle.Julia)}");
        }
        // Different texts must not all get the same answer (the pooled state depends on the text).
        Assert.False(batched[0].allclose(batched[1], rtol: 1e-4, atol: 1e-6));
    }

    [Fact]
    public void Pooling_choices_differ_and_padding_tokens_do_not_matter()
    {
        var mean = Classifier(ClassifierPooling.Mean);
        var last = Classifier(ClassifierPooling.LastToken);
        var (ids, mask) = ClassifierTrainer.Pad([[5, 6, 7], [8, 9]], 0, CPU);
        using var otherPad = ids.clone();
        otherPad[1, 2] = tensor(42L);
        Assert.True(mean.Probabilities(ids, mask).allclose(mean.Probabilities(otherPad, mask)));
        Assert.True(last.Probabilities(ids, mask).allclose(last.Probabilities(otherPad, mask)));
        Assert.False(mean.Probabilities(ids, mask).allclose(last.Probabilities(ids, mask)));
    }

    private static LlamaForSequenceClassification WithWordScores(ClassifierPooling pooling, int buckets = 31)
    {
        var model = new LlamaForSequenceClassification(TinyConfig(50), ["a", "b", "c"], pooling, buckets);
        model.InitializeWeights(3);
        Assert.All(model.named_parameters().Where(p => p.name.Contains("_scores.", StringComparison.Ordinal)), p => Assert.Equal(0, p.parameter.abs().sum().item<float>()));
        using (no_grad())
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.Contains("_scores.", StringComparison.Ordinal))) nn.init.normal_(p, 0, 1);
        model.eval();
        return model;
    }

    [Theory]
    [InlineData(ClassifierPooling.Mean)]
    [InlineData(ClassifierPooling.LastToken)]
    public void Word_scores_add_the_mean_score_of_the_texts_tokens_and_token_pairs_and_ignore_padding(ClassifierPooling pooling)
    {
        var words = WithWordScores(pooling);
        var names = words.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal([50L, 3L], names["token_scores.weight"].shape);
        Assert.Equal([31L, 3L], names["pair_scores.weight"].shape);

        // The same backbone and head without word scores: the difference of the logits is the word scores alone.
        var plain = new LlamaForSequenceClassification(TinyConfig(50), ["a", "b", "c"], pooling);
        using (no_grad()) foreach (var (name, p) in plain.named_parameters()) p.copy_(names[name]);
        plain.eval();
        int[][] texts = [[5, 6, 7], [8, 9], [4]];
        var (ids, mask) = ClassifierTrainer.Pad(texts, padId: 0, CPU);
        using var difference = words.forward(ids, mask) - plain.forward(ids, mask);
        var tokenScores = names["token_scores.weight"];
        var pairScores = names["pair_scores.weight"];
        for (int i = 0; i < texts.Length; i++)
        {
            var t = texts[i];
            var expected = stack(t.Select(id => tokenScores[id]).ToArray()).mean([0]);
            if (t.Length > 1)
                expected += stack(t.Zip(t.Skip(1)).Select(p => pairScores[(int)((p.First * TokenPairs.FirstMultiplier + p.Second * TokenPairs.SecondMultiplier) % 31)]).ToArray()).mean([0]);
            Assert.True(difference[i].allclose(expected, rtol: 1e-4, atol: 1e-5), $"text {i}");
        }

        // Padding tokens, whatever their id, change nothing.
        using var otherPad = ids.clone();
        otherPad[1, 2] = tensor(42L);
        otherPad[2, 1] = tensor(17L);
        Assert.True(words.Probabilities(ids, mask).allclose(words.Probabilities(otherPad, mask)));
    }

    [Fact]
    public void A_bounded_backbone_moves_no_labels_score_by_more_than_the_bound_and_the_bound_is_saved()
    {
        var config = TinyConfig(50);
        using var bounded = new LlamaForSequenceClassification(config, ["a", "b", "c"], ClassifierPooling.Mean, pairBuckets: 7, backboneBound: 0.5);
        bounded.InitializeWeights(3);
        using (no_grad()) bounded.named_parameters().First(p => p.name == "score.weight").parameter.mul_(500);
        bounded.eval();
        var (ids, mask) = ClassifierTrainer.Pad([[5, 6, 7], [8, 9]], 0, CPU);
        using var logits = bounded.forward(ids, mask); // word scores are zero: these are the backbone's alone
        Assert.True(logits.abs().max().item<float>() is > 0.3f and <= 0.5f, logits.ToString(TorchSharp.TensorStringStyle.Julia));

        var folder = Path.Combine(Path.GetTempPath(), $"classifier-{Guid.NewGuid():N}");
        try
        {
            bounded.Temperature = 0.7;
            ClassifierFolder.Save(bounded, null, folder);
            var saved = ClassifierLabels.Load(Path.Combine(folder, ClassifierFolder.LabelsFile));
            Assert.Equal(0.5, saved.BackboneBound);
            Assert.Equal(0.7, saved.Temperature);
            using var loaded = ClassifierFolder.Load(folder);
            Assert.True((logits / 0.7).allclose(loaded.forward(ids, mask), rtol: 1e-4, atol: 1e-6));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void The_fitted_temperature_sharpens_an_unsure_model_that_is_right_and_softens_a_sure_model_that_is_wrong()
    {
        var model = Classifier(ClassifierPooling.Mean);
        int[][] texts = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [14], [15, 16]];
        var predicted = ClassifierTrainer.PredictProbabilities(model, texts).Select(p => Array.IndexOf(p, p.Max())).ToArray();
        // An untrained model is unsure (probabilities near a third); its own top labels as targets: it should be surer.
        var right = texts.Select((t, i) => new TokenizedExample(t, predicted[i])).ToList();
        var sharpen = ClassifierTrainer.FitTemperature(model, right);
        Assert.Equal(0.25, sharpen, 3); // the lower limit
        // The second-likeliest labels as targets: the model should be less sure.
        var second = ClassifierTrainer.PredictProbabilities(model, texts).Select(p => Array.IndexOf(p, p.OrderDescending().ElementAt(1))).ToArray();
        Assert.True(ClassifierTrainer.FitTemperature(model, [.. texts.Select((t, i) => new TokenizedExample(t, second[i]))]) > 1);
        // Fitting a model that already has a temperature finds the same one.
        model.Temperature = 2;
        Assert.Equal(sharpen, ClassifierTrainer.FitTemperature(model, right), 3);
        var (ids, mask) = ClassifierTrainer.Pad(texts, 0, CPU);
        using var tempered = model.forward(ids, mask);
        model.Temperature = 1;
        Assert.True((tempered * 2).allclose(model.forward(ids, mask), rtol: 1e-4, atol: 1e-6));
    }

    [Fact]
    public void Word_scores_survive_the_folder_and_a_classifier_without_them_writes_no_buckets()
    {
        var words = WithWordScores(ClassifierPooling.Mean, buckets: 13);
        var folder = Path.Combine(Path.GetTempPath(), $"classifier-{Guid.NewGuid():N}");
        try
        {
            ClassifierFolder.Save(words, null, folder);
            Assert.Equal(13, ClassifierLabels.Load(Path.Combine(folder, ClassifierFolder.LabelsFile)).PairBuckets);
            using var loaded = ClassifierFolder.Load(folder);
            Assert.Equal(13, loaded.PairBuckets);
            var (ids, mask) = ClassifierTrainer.Pad([[1, 2, 3], [4]], 0, CPU);
            Assert.True(words.Probabilities(ids, mask).allclose(loaded.Probabilities(ids, mask)));

            ClassifierFolder.Save(Classifier(ClassifierPooling.Mean), null, folder);
            Assert.DoesNotContain("pairBuckets", File.ReadAllText(Path.Combine(folder, ClassifierFolder.LabelsFile)));
            Assert.Equal(0, ClassifierFolder.Load(folder).PairBuckets);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Tokens_spelled_alike_share_letter_groups_and_the_buckets_do_not_change_between_runs()
    {
        var tokenizer = new BpeTrainer(300).Train(SyntheticIntents.Make(20, seed: 3).Select(e => e.Text));
        var spelling = TokenSpelling.Of(tokenizer, buckets: 4096);
        Assert.Equal(tokenizer.VocabSize, spelling.VocabSize);
        Assert.Equal(spelling.Index, TokenSpelling.Of(tokenizer, buckets: 4096).Index); // a stable hash, not string.GetHashCode
        Assert.All(spelling.Index, b => Assert.InRange(b, 0, 4095));
        HashSet<long> Groups(int id) => [.. Enumerable.Range(0, spelling.Width).Where(j => spelling.Mask[id * spelling.Width + j] > 0).Select(j => spelling.Index[id * spelling.Width + j])];
        // A token of at least four letters has itself, its 3-letter and its 4-letter groups.
        var longToken = Enumerable.Range(0, tokenizer.VocabSize).First(id => !tokenizer.IsSpecial(id) && tokenizer.Decode([id]).Length >= 4);
        var text = tokenizer.Decode([longToken]);
        var groups = 1 + (text.Length - 2) + (text.Length - 3);
        Assert.InRange(Groups(longToken).Count, groups - 2, groups); // repeated letters or a hash collision may merge one or two
        // Another token with the same first three letters shares that group; special tokens have none.
        var sharing = Enumerable.Range(0, tokenizer.VocabSize).FirstOrDefault(id => id != longToken && tokenizer.Decode([id]).ToLowerInvariant().Contains(text.ToLowerInvariant()[..3], StringComparison.Ordinal));
        if (sharing > 0) Assert.NotEmpty(Groups(longToken).Intersect(Groups(sharing)));
        Assert.All(Enumerable.Range(0, tokenizer.VocabSize).Where(tokenizer.IsSpecial), id => Assert.Empty(Groups(id)));
    }

    [Fact]
    public void Spelling_scores_are_folded_into_the_token_scores_on_saving()
    {
        var tokenizer = new BpeTrainer(300).Train(SyntheticIntents.Make(20, seed: 3).Select(e => e.Text));
        var config = TinyConfig(tokenizer.VocabSize);
        var spelling = TokenSpelling.Of(tokenizer, buckets: 512);
        using var model = new LlamaForSequenceClassification(config, ["a", "b", "c"], ClassifierPooling.Mean, pairBuckets: 31, spelling);
        model.InitializeWeights(5);
        Assert.Contains(model.named_buffers(), b => b.name == "spelling_index"); // moves with the model to the GPU
        using (no_grad())
            foreach (var (name, p) in model.named_parameters().Where(p => LlamaForSequenceClassification.IsWordScore(p.name))) nn.init.normal_(p, 0, 1);
        model.eval();
        var folder = Path.Combine(Path.GetTempPath(), $"classifier-{Guid.NewGuid():N}");
        try
        {
            ClassifierFolder.Save(model, tokenizer, folder);
            using var loaded = ClassifierFolder.Load(folder);
            Assert.DoesNotContain(loaded.named_parameters(), p => p.name == "spelling_scores");
            var ids = SyntheticIntents.Make(4, seed: 9).Select(e => tokenizer.Encode(e.Text)).ToList();
            var (batch, mask) = ClassifierTrainer.Pad(ids, 0, CPU);
            using var expected = model.Probabilities(batch, mask);
            Assert.True(expected.allclose(loaded.Probabilities(batch, mask), rtol: 1e-4, atol: 1e-6));
            // The spelling scores mattered: without them the answer differs.
            using var plain = new LlamaForSequenceClassification(config, ["a", "b", "c"], ClassifierPooling.Mean, pairBuckets: 31);
            using (no_grad()) foreach (var (name, p) in plain.named_parameters()) p.copy_(model.named_parameters().First(q => q.name == name).parameter);
            plain.eval();
            Assert.False(expected.allclose(plain.Probabilities(batch, mask), rtol: 1e-3, atol: 1e-4));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Backbone_comes_from_a_language_model_and_the_folder_round_trips()
    {
        var config = TinyConfig(50);
        var lm = new LlamaForCausalLM(config);
        lm.InitializeWeights(11);
        var classifier = new LlamaForSequenceClassification(config, ["x", "y"]);
        classifier.InitializeWeights(12);
        classifier.LoadBackbone(lm);
        var lmWeights = lm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in classifier.named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)))
            Assert.True(p.eq(lmWeights[name]).all().item<bool>(), name);

        var folder = Path.Combine(Path.GetTempPath(), $"classifier-{Guid.NewGuid():N}");
        try
        {
            ClassifierFolder.Save(classifier, null, folder);
            var loaded = ClassifierFolder.Load(folder);
            Assert.Equal(["x", "y"], loaded.Labels);
            Assert.Equal(ClassifierPooling.Mean, loaded.Pooling);
            var (ids, mask) = ClassifierTrainer.Pad([[1, 2, 3], [4]], 0, CPU);
            classifier.eval();
            Assert.True(classifier.Probabilities(ids, mask).allclose(loaded.Probabilities(ids, mask)));
        }
        finally { Directory.Delete(folder, recursive: true); }

        var other = new LlamaForCausalLM(config with { HiddenSize = 64, IntermediateSize = 128 });
        Assert.Throws<UnsupportedModelException>(() => classifier.LoadBackbone(other));
    }
}

public class ClassifierTrainerTests
{
    private sealed class SteppingClock(TimeSpan perCall) : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Add(ref _ticks, perCall.Ticks);
    }

    private HfTokenizer _tokenizer = null!;

    private (LlamaForSequenceClassification Model, IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Validation) Setup(long seed = 5)
    {
        var train = SyntheticIntents.Make(30, seed: 1);
        var validation = SyntheticIntents.Make(10, seed: 2);
        var tokenizer = _tokenizer = new BpeTrainer(320).Train(train.Select(e => e.Text));
        var config = new LlamaConfig { VocabSize = tokenizer.VocabSize, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = 2, MaxPositions = 64 };
        var model = new LlamaForSequenceClassification(config, SyntheticIntents.Labels);
        model.InitializeWeights(seed);
        return (model, ClassifierTrainer.Tokenize(tokenizer, train, model.Labels, 32), ClassifierTrainer.Tokenize(tokenizer, validation, model.Labels, 32));
    }

    [Fact]
    public void Learns_a_small_intent_set_from_random_weights()
    {
        var (model, train, validation) = Setup();
        Assert.Equal(120, train.Count);
        var before = ClassifierTrainer.Evaluate(model, validation);
        var seen = new List<ClassifierEvaluation>();
        var trainer = new ClassifierTrainer(new ClassifierTrainingOptions { BatchSize = 16, MaxSteps = 150, EvaluateEvery = 25, Patience = 10, LearningRate = 3e-3 });
        trainer.Evaluated += seen.Add;
        var result = trainer.Train(model, train, validation);

        Assert.Equal(seen, result.Evaluations);
        Assert.Equal(150, result.Steps);
        Assert.Equal(ClassifierStopReason.StepLimit, result.StoppedBecause);
        var early = result.StepLosses.Take(10).Average();
        var late = result.StepLosses.TakeLast(10).Average();
        Assert.True(late < early * 0.5, $"loss went from {early:F3} to {late:F3}");
        Assert.True(result.BestValidation.Accuracy >= 0.7, $"validation accuracy {result.BestValidation.Accuracy:P0} (chance 25%, before training {before.Accuracy:P0})");
        // The model handed back is the best one: evaluating it again gives the best figures.
        Assert.Equal(result.BestValidation.MacroF1, ClassifierTrainer.Evaluate(model, validation).MacroF1, 6);

        var ranked = ClassifierTrainer.Classify(model, _tokenizer, ["hello, where is my parcel? the courier never came", ""], 32);
        Assert.Equal(2, ranked.Count);
        Assert.Equal("delivery", ranked[0][0].Label);
        Assert.Equal(1.0, ranked[0].Sum(r => r.Probability), 3);
        Assert.True(ranked[0][0].Probability >= ranked[0][1].Probability);
        Assert.Equal(4, ranked[1].Count);
    }

    [Fact]
    public void Stops_early_when_validation_stops_improving()
    {
        var (model, train, validation) = Setup();
        // A zero learning rate changes nothing, so the second measurement cannot beat the first.
        var result = new ClassifierTrainer(new ClassifierTrainingOptions { BatchSize = 8, MaxSteps = 100, EvaluateEvery = 5, Patience = 2, LearningRate = 0 })
            .Train(model, train, validation);
        Assert.Equal(ClassifierStopReason.EarlyStopping, result.StoppedBecause);
        Assert.Equal(15, result.Steps);
        Assert.Equal(5, result.BestStep);
    }

    [Fact]
    public void Stops_at_the_time_budget()
    {
        var (model, train, validation) = Setup();
        // Each reading of the clock is one more second: the budget of 20 seconds runs out after a few steps.
        var result = new ClassifierTrainer(new ClassifierTrainingOptions { BatchSize = 8, MaxSteps = 1000, EvaluateEvery = 1000, TimeBudget = TimeSpan.FromSeconds(20) },
            new SteppingClock(TimeSpan.FromSeconds(1))).Train(model, train, validation);
        Assert.Equal(ClassifierStopReason.TimeBudget, result.StoppedBecause);
        Assert.InRange(result.Steps, 1, 25);
        Assert.Single(result.Evaluations);
    }

    [Fact]
    public void A_time_budget_fits_the_schedule_so_the_learning_rate_has_decayed_when_time_is_up()
    {
        var (model, train, validation) = Setup();
        var steps = new List<ClassifierStep>();
        var trainer = new ClassifierTrainer(new ClassifierTrainingOptions { BatchSize = 8, MaxSteps = 100_000, EvaluateEvery = 1000, LearningRate = 1e-3, TimeBudget = TimeSpan.FromSeconds(60) },
            new SteppingClock(TimeSpan.FromSeconds(1)));
        trainer.Stepped += steps.Add;
        var result = trainer.Train(model, train, validation);

        Assert.All(steps.Take(ClassifierTrainer.ProbeSteps), s => Assert.Equal(100_000, s.MaxSteps)); // not measured yet
        var fitted = steps[ClassifierTrainer.ProbeSteps].MaxSteps;
        Assert.InRange(fitted, ClassifierTrainer.ProbeSteps + 1, 100);                                    // about one step per simulated second
        Assert.Equal(fitted, result.Steps);
        Assert.InRange(steps[^1].LearningRate, 0, 0.2e-3);                                                 // the cosine ran to its end
    }

    [Fact]
    public void Balanced_class_weights_match_hand_computed_values()
    {
        TokenizedExample E(int label) => new([1], label);
        // 6 of label 0, 2 of label 1, none of label 2: 8 / (3 × 6), 8 / (3 × 2), 0.
        var weights = ClassifierTrainer.BalancedClassWeights([.. Enumerable.Repeat(0, 6).Select(E), E(1), E(1)], 3);
        Assert.Equal(8f / 18, weights[0], 5);
        Assert.Equal(8f / 6, weights[1], 5);
        Assert.Equal(0f, weights[2]);
    }

    [Fact]
    public void Unknown_labels_are_refused_when_tokenizing()
    {
        var tokenizer = new BpeTrainer(300).Train(["hello world"]);
        var e = Assert.Throws<ArgumentException>(() => ClassifierTrainer.Tokenize(tokenizer, [new LabelledExample("hello", "other", 7)], ["a", "b"], 8));
        Assert.Contains("row 7", e.Message);
    }
}
