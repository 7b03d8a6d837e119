namespace SlmStudio.Core.Verdicts;

/// <summary>How useful a trained version is, in the words a business user needs.</summary>
public enum VerdictLevel { NotUsefulYet, UsableForDrafts, Good }

/// <summary>What was measured about one version: its validation loss against the word-frequency baseline of the same
/// text, its goal tests, and how much text it learned from.</summary>
/// <param name="PassesOverData">Tokens trained on divided by tokens of training text; null when unknown.</param>
/// <param name="FromBaseModel">True when training started from a base model rather than from scratch.</param>
public sealed record VersionMeasurements(
    double? ValidationLoss, double? BaselineValidationLoss, int GoalTestsPassed, int GoalTests,
    long TrainingCharacters, double? PassesOverData = null, bool FromBaseModel = false);

/// <summary>What was measured about a "Sort and route" version: accuracy on held-out examples, beside the simple keyword
/// model trained on the same examples, and its goal tests (text -> expected label).</summary>
public sealed record ClassifierMeasurements(double Accuracy, double BaselineAccuracy, int GoalTestsPassed, int GoalTests, int TrainExamples);

/// <summary>A plain verdict: a title, one sentence why, one sentence what to do next.</summary>
public sealed record ModelVerdict(VerdictLevel Level, string Why, string NextStep)
{
    /// <summary>Improvement over the baseline needed (as a share of the baseline's loss) to call a version good; a
    /// version that only just beats word frequencies writes plausible words but not sense.</summary>
    public const double GoodImprovement = 0.30;

    /// <summary>Share of goal tests a good version passes.</summary>
    public const double GoodPassRate = 0.8;

    public string Title => Level switch
    {
        VerdictLevel.Good => "Good",
        VerdictLevel.UsableForDrafts => "Usable for drafts",
        _ => "Not useful yet",
    };

    /// <summary>Only versions with a verdict better than "Not useful yet" become production without a person choosing it.</summary>
    public bool FitForProduction => Level != VerdictLevel.NotUsefulYet;

    /// <summary>The verdict from the measurements; a pure function so the rules can be tested and explained.</summary>
    public static ModelVerdict From(VersionMeasurements m)
    {
        double? improvement = m.ValidationLoss is { } loss && m.BaselineValidationLoss is { } baseline && baseline > 0
            ? 1 - loss / baseline : null;
        var passRate = m.GoalTests > 0 ? (double)m.GoalTestsPassed / m.GoalTests : (double?)null;
        var goals = m.GoalTests > 0 ? $"it passed {m.GoalTestsPassed} of {m.GoalTests} goal tests" : null;

        if (m.ValidationLoss is null)
            return new(VerdictLevel.NotUsefulYet, "Training stopped before the model could be measured.", NextStepForWeakModel(m));
        if (improvement is <= 0)
            return new(VerdictLevel.NotUsefulYet,
                $"It predicts your text no better than simply counting how often each word piece occurs{(goals is null ? "" : $", and {goals}")}.",
                NextStepForWeakModel(m));
        if (passRate is < 0.5)
            return new(VerdictLevel.NotUsefulYet, $"It fails most of your goal tests: {goals}.", NextStepForWeakModel(m));

        var better = improvement is { } i ? $"It predicts your text {i * 100:0}% better than counting word frequencies" : "It learned from your text";
        if (improvement is null or >= GoodImprovement && passRate is >= GoodPassRate)
            return new(VerdictLevel.Good, $"{better} and {goals}.",
                "Try it in the playground with your own prompts, then make it production.");
        if (passRate is null)
            return new(VerdictLevel.UsableForDrafts, $"{better}, but there are no goal tests to show it does the job.",
                "Add a few goal tests (a prompt and a word the answer must contain) and check its drafts before using them.");
        return new(VerdictLevel.UsableForDrafts, $"{better} and {goals}; have a person check what it writes.",
            improvement is < GoodImprovement ? NextStepForWeakModel(m) : "Look at the failed goal tests: more text about those topics usually fixes them.");
    }

    /// <summary>Accuracy from which a classifier that beats the keyword model sorts well enough to route on its own.</summary>
    public const double GoodAccuracy = 0.85;

    /// <summary>
    /// The verdict of a classifier: it must sort held-out texts better than the keyword model (otherwise that simpler
    /// model does the job), pass most goal tests, and be right often enough to route without a person checking.
    /// </summary>
    public static ModelVerdict ForClassifier(ClassifierMeasurements m)
    {
        var goals = m.GoalTests > 0 ? $"it sorted {m.GoalTestsPassed} of {m.GoalTests} goal tests correctly" : null;
        var passRate = m.GoalTests > 0 ? (double)m.GoalTestsPassed / m.GoalTests : (double?)null;
        var moreExamples = $"Add more labelled examples (it learned from {m.TrainExamples:N0}), especially for the labels it confuses, or start from a base model from the library.";
        if (m.Accuracy <= m.BaselineAccuracy)
            return new(VerdictLevel.NotUsefulYet,
                $"It sorted {m.Accuracy * 100:0}% of the held-out texts correctly, no better than the simple keyword model ({m.BaselineAccuracy * 100:0}%){(goals is null ? "" : $", and {goals}")}.",
                moreExamples);
        if (passRate is < 0.5)
            return new(VerdictLevel.NotUsefulYet, $"It fails most of your goal tests: {goals}.", moreExamples);
        var better = $"It sorted {m.Accuracy * 100:0}% of the held-out texts correctly (the keyword model: {m.BaselineAccuracy * 100:0}%)";
        if (m.Accuracy >= GoodAccuracy && passRate is null or >= GoodPassRate)
            return new(VerdictLevel.Good, goals is null ? $"{better}." : $"{better} and {goals}.",
                "Try it with a few real messages, then make it production and route with it.");
        return new(VerdictLevel.UsableForDrafts, goals is null ? $"{better}; have a person confirm its choices." : $"{better} and {goals}; have a person confirm its choices.",
            m.Accuracy < GoodAccuracy ? moreExamples : "Look at the failed goal tests: more examples like them usually fix them.");
    }

    private static string NextStepForWeakModel(VersionMeasurements m)
    {
        if (!m.FromBaseModel && m.TrainingCharacters < TrainingAdvice.TooLittleTextFromScratch)
            return $"{Describe(m.TrainingCharacters)} of text is too little to teach a model from scratch: start from a base model from the library, "
                 + "or ask your documents directly (the \"Answer questions\" use case) instead of training.";
        if (m.PassesOverData is < TrainingAdvice.RecommendedPasses / 2.0)
            return $"Train longer: the model read your text only {m.PassesOverData:0.#} times; about {TrainingAdvice.RecommendedPasses} times is recommended.";
        return "Add more text of the kind you want it to write, or start from a base model from the library.";
    }

    public static string Describe(long characters) => characters switch
    {
        >= 1_000_000 => $"{characters / 1_000_000.0:0.#} million characters",
        >= 1_000 => $"{characters / 1_000.0:0} thousand characters",
        _ => $"{characters} characters",
    };
}
