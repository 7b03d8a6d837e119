namespace SlmStudio.Core.Classification;

/// <summary>Training and validation examples, each in the order of the original rows.</summary>
public sealed record LabelledSplit(IReadOnlyList<LabelledExample> Train, IReadOnlyList<LabelledExample> Validation);

/// <summary>
/// A train/validation split that keeps each label's share in both parts. Deterministic for a given seed and input, so
/// that a dataset version can freeze it: every label with two or more examples gets at least one in each part; a
/// label with a single example goes to training (it cannot be both learned and tested).
/// </summary>
public static class StratifiedSplit
{
    public static LabelledSplit Split(IReadOnlyList<LabelledExample> examples, double validationFraction = 0.1, int seed = 1234)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(validationFraction, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(validationFraction, 1.0);
        var train = new List<(int Index, LabelledExample Example)>();
        var validation = new List<(int Index, LabelledExample Example)>();
        var usable = examples.Select((e, i) => (Index: i, Example: e)).Where(x => x.Example.IsUsable);
        // Labels in ordinal order and one Random for all of them: the result depends only on the rows and the seed.
        // System.Random with a seed is the same sequence on every .NET version and platform.
        var random = new Random(seed);
        foreach (var group in usable.GroupBy(x => x.Example.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var items = group.ToArray();
            random.Shuffle(items);
            var n = items.Length;
            var take = n < 2 ? 0 : Math.Clamp((int)Math.Round(n * validationFraction, MidpointRounding.AwayFromZero), 1, n - 1);
            validation.AddRange(items.Take(take));
            train.AddRange(items.Skip(take));
        }
        return new LabelledSplit([.. train.OrderBy(x => x.Index).Select(x => x.Example)], [.. validation.OrderBy(x => x.Index).Select(x => x.Example)]);
    }
}
