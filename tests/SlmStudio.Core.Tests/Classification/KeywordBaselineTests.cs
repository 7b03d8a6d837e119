using SlmStudio.Core.Classification;

namespace SlmStudio.Core.Tests.Classification;

public class KeywordBaselineTests
{
    [Fact]
    public void Learns_a_small_intent_set_and_survives_a_save_and_load()
    {
        var train = SyntheticIntents.Make(30, seed: 1);
        var test = SyntheticIntents.Make(15, seed: 2);
        var baseline = KeywordBaseline.Train(train);

        Assert.Equal(SyntheticIntents.Labels.Order(), baseline.Labels.Order());
        var metrics = baseline.Evaluate(test);
        Assert.Equal(60, metrics.Count);
        Assert.True(metrics.Accuracy > 0.8, $"accuracy {metrics.Accuracy:P1} (chance is 25%)");
        Assert.True(metrics.MacroF1 > 0.8, $"macro-F1 {metrics.MacroF1:F3}");

        var probabilities = baseline.Predict("hello my parcel has not arrived, where is the courier");
        Assert.Equal(baseline.Labels.Count, probabilities.Length);
        Assert.Equal(1.0, probabilities.Sum(), 3);
        Assert.Equal("delivery", baseline.Labels[Array.IndexOf(probabilities, probabilities.Max())]);

        var path = Path.Combine(Path.GetTempPath(), $"baseline-{Guid.NewGuid():N}.zip");
        try
        {
            baseline.Save(path);
            var loaded = KeywordBaseline.Load(path);
            Assert.Equal(baseline.Labels, loaded.Labels);
            var texts = test.Take(10).Select(e => e.Text).ToList();
            var before = baseline.PredictMany(texts);
            var after = loaded.PredictMany(texts);
            for (int i = 0; i < texts.Count; i++) Assert.Equal(before[i], after[i]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Labels_only_in_the_test_set_count_as_misses()
    {
        var baseline = KeywordBaseline.Train(SyntheticIntents.Make(10, seed: 3));
        var metrics = baseline.Evaluate([new LabelledExample("where is my parcel", "lost", 2), new LabelledExample("refund my invoice", "billing", 3)]);
        Assert.Contains("lost", metrics.Labels);
        Assert.Equal(0, metrics.PerLabel.Single(l => l.Label == "lost").Recall);
    }

    [Fact]
    public void A_single_label_is_refused()
    {
        Assert.Throws<ArgumentException>(() => KeywordBaseline.Train([new LabelledExample("a", "x", 2), new LabelledExample("b", "x", 3)]));
    }
}
