using SlmStudio.Core.Classification;

namespace SlmStudio.Core.Tests.Classification;

public class ClassificationMetricsTests
{
    // Labels A=0, B=1, C=2, D=3 (D never occurs). Confusion matrix (actual rows, predicted columns), worked by hand:
    //   A: 2 2 0     A: P = 2/3, R = 2/4, F1 = 4/7
    //   B: 0 1 1     B: P = 1/3, R = 1/2, F1 = 2/5
    //   C: 1 0 1     C: P = 1/2, R = 1/2, F1 = 1/2      macro-F1 = (4/7 + 2/5 + 1/2) / 3; D is left out of the average
    private static readonly ScoredPrediction[] Predictions =
    [
        new(0, 0, 0.95), new(0, 0, 0.85), new(0, 1, 0.65, "a-as-b 1"), new(0, 1, 0.55, "a-as-b 2"),
        new(1, 1, 0.92), new(1, 2, 0.45, "b-as-c"),
        new(2, 2, 0.97), new(2, 0, 0.91, "c-as-a"),
    ];

    private static ClassificationMetrics Metrics() => ClassificationMetrics.Compute(["A", "B", "C", "D"], Predictions);

    [Fact]
    public void Accuracy_and_macro_f1_match_hand_computed_values()
    {
        var m = Metrics();
        Assert.Equal(8, m.Count);
        Assert.Equal(0.5, m.Accuracy, 12);
        Assert.Equal((4.0 / 7 + 2.0 / 5 + 1.0 / 2) / 3, m.MacroF1, 12);
    }

    [Fact]
    public void Per_label_precision_recall_f1_and_matrix_match_hand_computed_values()
    {
        var m = Metrics();
        Assert.Equal([[2, 2, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]], m.ConfusionMatrix.Select(r => r.ToArray()).ToArray());
        var a = m.PerLabel[0];
        Assert.Equal((2.0 / 3, 0.5, 4, 3), (a.Precision, a.Recall, a.Support, a.Predicted));
        Assert.Equal(4.0 / 7, a.F1, 12);
        var b = m.PerLabel[1];
        Assert.Equal(1.0 / 3, b.Precision, 12);
        Assert.Equal(0.4, b.F1, 12);
        Assert.Equal((0.5, 0.5, 0.5), (m.PerLabel[2].Precision, m.PerLabel[2].Recall, m.PerLabel[2].F1));
        Assert.Equal((0.0, 0, 0), (m.PerLabel[3].F1, m.PerLabel[3].Support, m.PerLabel[3].Predicted));
    }

    [Fact]
    public void Top_confusions_come_most_frequent_first_with_their_texts()
    {
        var top = Metrics().TopConfusions;
        Assert.Equal(3, top.Count);
        Assert.Equal(("A", "B", 2), (top[0].Actual, top[0].Predicted, top[0].Count));
        Assert.Equal(["a-as-b 1", "a-as-b 2"], top[0].ExampleTexts);
        Assert.Equal(("B", "C"), (top[1].Actual, top[1].Predicted));
        Assert.Equal(("C", "A", "c-as-a"), (top[2].Actual, top[2].Predicted, top[2].ExampleTexts.Single()));
    }

    [Fact]
    public void Calibration_bins_and_expected_calibration_error_match_hand_computed_values()
    {
        var cal = Metrics().Calibration;
        Assert.Equal(10, cal.Bins.Count);
        var top = cal.Bins[9];
        Assert.Equal((0.9, 1.0, 4, 0.75), (top.Lower, top.Upper, top.Count, top.Accuracy));
        Assert.Equal(0.9375, top.MeanConfidence, 12);
        Assert.Equal((1, 1.0), (cal.Bins[8].Count, cal.Bins[8].Accuracy));
        Assert.Equal(0, cal.Bins[0].Count);
        // ECE = 4/8·|0.75−0.9375| + 1/8·|1−0.85| + 1/8·0.65 + 1/8·0.55 + 1/8·0.45
        Assert.Equal(0.09375 + 0.01875 + 0.08125 + 0.06875 + 0.05625, cal.ExpectedCalibrationError, 12);
        Assert.Equal("When the model is at least 90% sure, it is right 75% of the time (4 texts).", cal.Summary());
        Assert.Null(ClassificationMetrics.Compute(["A", "B"], [new(0, 1, 0.5)]).Calibration.Summary());
    }

    [Fact]
    public void A_perfectly_calibrated_confident_model_has_zero_error()
    {
        var m = ClassificationMetrics.Compute(["A", "B"], [new(0, 0, 1.0), new(1, 1, 1.0)]);
        Assert.Equal((1.0, 1.0, 0.0), (m.Accuracy, m.MacroF1, m.Calibration.ExpectedCalibrationError));
        Assert.Empty(m.TopConfusions);
    }

    [Fact]
    public void Prediction_from_probabilities_takes_the_most_probable_label()
    {
        var p = ClassificationMetrics.FromProbabilities(2, [0.1f, 0.7f, 0.2f], "t");
        Assert.Equal(new ScoredPrediction(2, 1, 0.7f, "t"), p);
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute(["A"], [new(0, 1, 0.5)]));
    }
}
