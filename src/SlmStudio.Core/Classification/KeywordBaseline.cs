using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Text;

namespace SlmStudio.Core.Classification;

/// <summary>
/// The classic model trained beside ours, so that users can see whether the language model earns its cost: word
/// (1–2) and character (4) n-gram TF-IDF features and a linear maximum-entropy classifier, with ML.NET. Users see it as
/// "a simple keyword model". Thread-safe for prediction.
/// </summary>
public sealed class KeywordBaseline
{
    public sealed class Row
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class Scores
    {
        public float[] Score { get; set; } = [];
    }

    private readonly MLContext _ml;
    private readonly ITransformer _model;
    private readonly DataViewSchema _inputSchema;
    private readonly PredictionEngine<Row, Scores> _engine;
    private readonly Lock _engineLock = new();

    /// <summary>The labels in the order of every probability row this model returns.</summary>
    public IReadOnlyList<string> Labels { get; }

    private KeywordBaseline(MLContext ml, ITransformer model, DataViewSchema inputSchema)
    {
        _ml = ml;
        _model = model;
        _inputSchema = inputSchema;
        _engine = ml.Model.CreatePredictionEngine<Row, Scores>(model, inputSchema);
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        _engine.OutputSchema["Score"].GetSlotNames(ref slotNames);
        Labels = [.. slotNames.DenseValues().Select(s => s.ToString())];
    }

    /// <summary>Trains on the usable examples (labels as given: merge case/space variants first if the user chose to).</summary>
    public static KeywordBaseline Train(IReadOnlyList<LabelledExample> train, int seed = 1, CancellationToken ct = default)
    {
        var rows = train.Where(e => e.IsUsable).Select(e => new Row { Text = e.Text, Label = e.Label }).ToList();
        if (rows.Select(r => r.Label).Distinct(StringComparer.Ordinal).Count() < 2)
            throw new ArgumentException("The keyword model needs examples of at least two labels.", nameof(train));
        var ml = new MLContext(seed);
        // ML.NET's fit takes no cancellation token (its cancel hook is internal); on thousands of short texts it takes seconds.
        ct.ThrowIfCancellationRequested();
        var data = ml.Data.LoadFromEnumerable(rows);
        var features = new TextFeaturizingEstimator.Options
        {
            CaseMode = TextNormalizingEstimator.CaseMode.Lower,
            KeepDiacritics = false,
            KeepPunctuations = false,
            KeepNumbers = true,
            WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = 2, UseAllLengths = true, Weighting = NgramExtractingEstimator.WeightingCriteria.TfIdf },
            CharFeatureExtractor = new WordBagEstimator.Options { NgramLength = 4, UseAllLengths = false, Weighting = NgramExtractingEstimator.WeightingCriteria.TfIdf },
            Norm = TextFeaturizingEstimator.NormFunction.L2,
        };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Text.FeaturizeText("Features", features, nameof(Row.Text)))
            // One thread: SDCA is then deterministic for a seed, and the two cores are shared with our own training.
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 }));
        var model = pipeline.Fit(data);
        ct.ThrowIfCancellationRequested();
        return new KeywordBaseline(ml, model, data.Schema);
    }

    /// <summary>One probability per label, in the order of <see cref="Labels"/>.</summary>
    public float[] Predict(string text)
    {
        lock (_engineLock) return _engine.Predict(new Row { Text = text }).Score;
    }

    /// <summary>Probabilities for many texts at once (one ML.NET pass, faster than one call per text).</summary>
    public IReadOnlyList<float[]> PredictMany(IEnumerable<string> texts)
    {
        var data = _ml.Data.LoadFromEnumerable(texts.Select(t => new Row { Text = t }));
        return [.. _ml.Data.CreateEnumerable<Scores>(_model.Transform(data), reuseRowObject: false).Select(s => s.Score)];
    }

    /// <summary>
    /// Scores the model on held-out examples. Labels seen only in <paramref name="test"/> are appended to the label list
    /// (the model can never predict them, which is exactly what the figures should show).
    /// </summary>
    public ClassificationMetrics Evaluate(IReadOnlyList<LabelledExample> test)
    {
        var usable = test.Where(e => e.IsUsable).ToList();
        var labels = Labels.Concat(usable.Select(e => e.Label).Where(l => !Labels.Contains(l)).Distinct(StringComparer.Ordinal)).ToList();
        var index = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        var probabilities = PredictMany(usable.Select(e => e.Text));
        return ClassificationMetrics.Compute(labels, [.. usable.Select((e, i) => ClassificationMetrics.FromProbabilities(index[e.Label], probabilities[i], e.Text))]);
    }

    /// <summary>Writes the whole model (features and classifier) to one zip file.</summary>
    public void Save(string path) => _ml.Model.Save(_model, _inputSchema, path);

    public static KeywordBaseline Load(string path)
    {
        var ml = new MLContext(1);
        var model = ml.Model.Load(path, out var inputSchema);
        return new KeywordBaseline(ml, model, inputSchema);
    }
}
