using System.Text;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

/// <summary>Generated training text with known structure, and small settings that keep the real training path quick.</summary>
public static class TrainingFixture
{
    public const string LearnedPhrase = "Our support team answers every email within one business day.";

    /// <summary>Templated business sentences plus one phrase that recurs often enough to be learned by heart.</summary>
    public static string StructuredCorpus(int lines, int seed = 7)
    {
        string[] customers = ["Anna", "Boris", "Chen", "Dana", "Emil", "Fatima", "Greta", "Hugo"];
        string[] cities = ["Berlin", "Lisbon", "Oslo", "Madrid", "Vienna", "Prague", "Dublin", "Rome"];
        string[] days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
        string[] products = ["printer", "router", "laptop", "monitor", "keyboard", "scanner"];
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int i = 0; i < lines; i++)
        {
            text.Append((i % 4) switch
            {
                0 => LearnedPhrase,
                1 => $"Order {random.Next(100, 999)} from {customers[random.Next(customers.Length)]} ships to {cities[random.Next(cities.Length)]} on {days[random.Next(days.Length)]}.",
                2 => $"The {products[random.Next(products.Length)]} for {customers[random.Next(customers.Length)]} is ready in {cities[random.Next(cities.Length)]}.",
                _ => $"{customers[random.Next(customers.Length)]} asked about the {products[random.Next(products.Length)]} on {days[random.Next(days.Length)]}.",
            });
            text.Append(i % 12 == 11 ? "\n\n" : "\n");
        }
        return text.ToString();
    }

    public static string WriteCorpus(string dir, int lines = 1200, string name = "corpus.txt")
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, StructuredCorpus(lines));
        return path;
    }

    /// <summary>The tiny preset, shortened: small vocabulary and context so that a few hundred steps take seconds.</summary>
    public static TrainingOptions Options(string data, string run, int maxSteps, int evalEvery = 50) => new()
    {
        DataPath = data,
        RunDirectory = run,
        Preset = "tiny",
        MaxSteps = maxSteps,
        VocabSize = 384,
        ContextLength = 64,
        BatchSize = 16,
        EvalEvery = evalEvery,
        LogEvery = 10,
        SampleTokens = 16,
        Device = "cpu",
        // "auto" depends on the processor; the figures these tests assert were set with float32 steps.
        Precision = TrainingPrecision.Float32,
    };

    /// <summary>The step losses a resumed run reported equal an uninterrupted run's after <paramref name="resumedAt"/>, within <paramref name="tolerance"/>.</summary>
    public static void AssertResumedLossesMatch(Recorder straight, Recorder resumed, int resumedAt, double tolerance)
    {
        var expected = straight.Events.OfType<TrainingStep>().Where(s => s.Step > resumedAt).Select(s => s.Loss).ToList();
        var actual = resumed.Events.OfType<TrainingStep>().Select(s => s.Loss).ToList();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < tolerance, $"step loss {actual[i]} differs from {expected[i]}");
    }

    public sealed class Recorder : IProgress<TrainingEvent>
    {
        public List<TrainingEvent> Events { get; } = [];
        public Action<TrainingEvent>? OnEvent { get; init; }

        public void Report(TrainingEvent value)
        {
            lock (Events) Events.Add(value);
            OnEvent?.Invoke(value);
        }
    }
}
