using SlmStudio.Core.Inference;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>Goal tests of "Sort and route": "this text -> this label". A test passes when the top label is the expected
/// one, ignoring case and spaces at either end (as people type labels in a form).</summary>
public static class ClassifierGoals
{
    public static List<GoalResult> Run(OnnxClassifier classifier, IReadOnlyList<GoalTest> tests, CancellationToken ct)
    {
        if (tests.Count == 0) return [];
        var ranked = classifier.Classify([.. tests.Select(t => t.Prompt)], ct: ct);
        return [.. tests.Select((t, i) =>
        {
            var top = ranked[i][0];
            return new GoalResult(t.Prompt, t.MustContain, Matches(top.Label, t.MustContain), $"{top.Label} ({Training.ClassificationProgress.Percent(top.Probability)} sure)");
        })];
    }

    public static bool Matches(string label, string expected) => string.Equals(label.Trim(), expected.Trim(), StringComparison.OrdinalIgnoreCase);
}
