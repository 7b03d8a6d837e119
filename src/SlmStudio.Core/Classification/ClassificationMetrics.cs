using System.Globalization;

namespace SlmStudio.Core.Classification;

/// <summary>One prediction to score: the true label, the predicted label (indices into the label list), how sure the model was, and the text.</summary>
public readonly record struct ScoredPrediction(int Actual, int Predicted, double Confidence, string? Text = null);

public sealed record LabelScore(string Label, double Precision, double Recall, double F1, int Support, int Predicted);

/// <summary>Texts of one label taken for another: the heat map's hottest cells off the diagonal.</summary>
public sealed record Confusion(string Actual, string Predicted, int Count, IReadOnlyList<string> ExampleTexts);

/// <summary>Predictions whose confidence fell in [Lower, Upper): how many, how often right, how sure on average.</summary>
public sealed record ReliabilityBin(double Lower, double Upper, int Count, double Accuracy, double MeanConfidence);

public sealed record Calibration(IReadOnlyList<ReliabilityBin> Bins, double ExpectedCalibrationError)
{
    /// <summary>
    /// "When the model is at least 90% sure, it is right 87% of the time (143 texts)." — null when no prediction was that
    /// sure.
    /// </summary>
    public string? Summary(double atLeast = 0.9)
    {
        var sure = Bins.Where(b => b.Lower >= atLeast - 1e-9).ToList();
        var n = sure.Sum(b => b.Count);
        if (n == 0) return null;
        var right = sure.Sum(b => b.Accuracy * b.Count) / n;
        return $"When the model is at least {Percent(atLeast)} sure, it is right {Percent(right)} of the time ({n.ToString("N0", CultureInfo.InvariantCulture)} text{(n == 1 ? "" : "s")}).";
    }

    private static string Percent(double x) => $"{Math.Round(x * 100).ToString(CultureInfo.InvariantCulture)}%";
}

/// <summary>
/// How well a classifier did on labelled texts. Macro-F1 averages over the labels that occur among the true or the
/// predicted labels (scikit-learn's default), so a label absent from the test set does not count as a zero.
/// <see cref="ConfusionMatrix"/> is [actual][predicted] in the order of <see cref="Labels"/>.
/// </summary>
public sealed record ClassificationMetrics(
    IReadOnlyList<string> Labels,
    int Count,
    double Accuracy,
    double MacroF1,
    IReadOnlyList<LabelScore> PerLabel,
    IReadOnlyList<IReadOnlyList<int>> ConfusionMatrix,
    IReadOnlyList<Confusion> TopConfusions,
    Calibration Calibration)
{
    public static ClassificationMetrics Compute(IReadOnlyList<string> labels, IReadOnlyList<ScoredPrediction> predictions,
        int topConfusions = 5, int examplesPerConfusion = 3, int calibrationBins = 10)
    {
        var k = labels.Count;
        var matrix = new int[k][];
        for (int i = 0; i < k; i++) matrix[i] = new int[k];
        var examples = new Dictionary<(int, int), List<string>>();
        int correct = 0;
        foreach (var p in predictions)
        {
            if ((uint)p.Actual >= (uint)k || (uint)p.Predicted >= (uint)k)
                throw new ArgumentException($"A prediction names label {p.Actual}→{p.Predicted}, outside the {k} labels.", nameof(predictions));
            matrix[p.Actual][p.Predicted]++;
            if (p.Actual == p.Predicted) correct++;
            else if (p.Text is not null)
            {
                if (!examples.TryGetValue((p.Actual, p.Predicted), out var list)) examples[(p.Actual, p.Predicted)] = list = [];
                if (list.Count < examplesPerConfusion) list.Add(p.Text);
            }
        }

        var perLabel = new List<LabelScore>(k);
        var f1s = new List<double>();
        for (int c = 0; c < k; c++)
        {
            var tp = matrix[c][c];
            var support = matrix[c].Sum();
            var predicted = 0;
            for (int r = 0; r < k; r++) predicted += matrix[r][c];
            // A ratio with nothing to count is 0, as scikit-learn's zero_division=0.
            var precision = predicted == 0 ? 0 : (double)tp / predicted;
            var recall = support == 0 ? 0 : (double)tp / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perLabel.Add(new LabelScore(labels[c], precision, recall, f1, support, predicted));
            if (support > 0 || predicted > 0) f1s.Add(f1);
        }

        var confusions = new List<Confusion>();
        for (int a = 0; a < k; a++)
            for (int p = 0; p < k; p++)
                if (a != p && matrix[a][p] > 0)
                    confusions.Add(new Confusion(labels[a], labels[p], matrix[a][p], examples.GetValueOrDefault((a, p)) ?? []));
        var top = confusions.OrderByDescending(c => c.Count).ThenBy(c => c.Actual, StringComparer.Ordinal).ThenBy(c => c.Predicted, StringComparer.Ordinal)
            .Take(topConfusions).ToList();

        return new ClassificationMetrics(labels, predictions.Count,
            predictions.Count == 0 ? 0 : (double)correct / predictions.Count,
            f1s.Count == 0 ? 0 : f1s.Average(),
            perLabel, matrix, top, Calibrate(predictions, calibrationBins));
    }

    /// <summary>Prediction with its confidence from a row of probabilities (one per label): the most probable label.</summary>
    public static ScoredPrediction FromProbabilities(int actual, IReadOnlyList<float> probabilities, string? text = null)
    {
        int best = 0;
        for (int i = 1; i < probabilities.Count; i++) if (probabilities[i] > probabilities[best]) best = i;
        return new ScoredPrediction(actual, best, probabilities[best], text);
    }

    /// <summary>Equal-width confidence bins; the last one includes 1.0. ECE = Σ (n_bin / n) · |accuracy_bin − confidence_bin|.</summary>
    private static Calibration Calibrate(IReadOnlyList<ScoredPrediction> predictions, int binCount)
    {
        var count = new int[binCount];
        var right = new int[binCount];
        var confidence = new double[binCount];
        foreach (var p in predictions)
        {
            var b = Math.Clamp((int)Math.Floor(p.Confidence * binCount), 0, binCount - 1);
            count[b]++;
            confidence[b] += p.Confidence;
            if (p.Actual == p.Predicted) right[b]++;
        }
        var bins = new List<ReliabilityBin>(binCount);
        double ece = 0;
        for (int b = 0; b < binCount; b++)
        {
            var acc = count[b] == 0 ? 0 : (double)right[b] / count[b];
            var conf = count[b] == 0 ? 0 : confidence[b] / count[b];
            bins.Add(new ReliabilityBin((double)b / binCount, (double)(b + 1) / binCount, count[b], acc, conf));
            if (count[b] > 0) ece += (double)count[b] / predictions.Count * Math.Abs(acc - conf);
        }
        return new Calibration(bins, ece);
    }
}
