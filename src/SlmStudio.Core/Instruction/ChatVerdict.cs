using System.Globalization;
using SlmStudio.Core.Verdicts;

namespace SlmStudio.Core.Instruction;

/// <summary>What was measured about an "Answer questions" version: held-out token F1 after and before training, and its goal tests.</summary>
public sealed record ChatMeasurements(int Questions, double TokenF1, double TokenF1Before, int GoalTestsPassed, int GoalTests, bool FromBaseModel = false);

/// <summary>
/// The plain verdict of an "Answer questions" version. A chat model is judged by its answers, not by how well it
/// predicts text: by token F1 on held-out questions (how many words its answers share with the expected ones) and by
/// its goal tests ("this question: the answer must contain this").
/// </summary>
public static class ChatVerdict
{
    /// <summary>Below this held-out token F1 the answers share too few words with the right ones to be of use.</summary>
    public const double UsableTokenF1 = 0.3;
    /// <summary>From this held-out token F1 on, the answers are mostly the expected ones in other words.</summary>
    public const double GoodTokenF1 = 0.6;

    public static ModelVerdict From(ChatMeasurements m)
    {
        var inv = CultureInfo.InvariantCulture;
        var passRate = m.GoalTests > 0 ? (double)m.GoalTestsPassed / m.GoalTests : (double?)null;
        var goals = m.GoalTests > 0 ? string.Create(inv, $"it passed {m.GoalTestsPassed} of {m.GoalTests} goal tests") : null;
        var words = string.Create(inv, $"its answers to questions it never trained on share {m.TokenF1 * 100:0}% of their words with yours (token F1 {m.TokenF1:0.00})");

        if (m.Questions == 0)
            return new(VerdictLevel.NotUsefulYet, "The model could not be measured: no held-out question was answered.", "Train again with more question and answer pairs, so some can be held back to check the model.");
        if (m.TokenF1 <= m.TokenF1Before)
            return new(VerdictLevel.NotUsefulYet, Sentence(string.Create(inv, $"Its answers are no better than before training (token F1 {m.TokenF1Before:0.00} before, {m.TokenF1:0.00} after)")), WeakNextStep(m));
        if (m.TokenF1 < UsableTokenF1)
            return new(VerdictLevel.NotUsefulYet, Sentence(Capital(words) + (goals is null ? "" : $", and {goals}")), WeakNextStep(m));
        if (passRate is < 0.5)
            return new(VerdictLevel.NotUsefulYet, Sentence($"It fails most of your goal tests: {goals}"), "Look at the failed goal tests: add question and answer pairs about those topics, then train again.");
        if (m.TokenF1 >= GoodTokenF1 && passRate is >= ModelVerdict.GoodPassRate)
            return new(VerdictLevel.Good, Sentence($"{Capital(words)}, and {goals}"), "Try it in the playground with questions of your own, then make it production.");
        if (passRate is null)
            return new(VerdictLevel.UsableForDrafts, Sentence($"{Capital(words)}, but there are no goal tests to show it answers what matters"),
                "Add a few goal tests (a question and a word the answer must contain) and have a person check its answers before they are sent.");
        return new(VerdictLevel.UsableForDrafts, Sentence($"{Capital(words)}, and {goals}; have a person check its answers before they are sent"),
            m.TokenF1 < GoodTokenF1 ? WeakNextStep(m) : "Look at the failed goal tests: pairs about those topics usually fix them.");
    }

    private static string WeakNextStep(ChatMeasurements m) => m.FromBaseModel
        ? "Add more question and answer pairs (a few hundred, each question asked in several ways), or train longer."
        : "Start from a base model from the library: a model trained from scratch on a few hundred pairs rarely answers new questions well. Or add more pairs, each question asked in several ways.";

    private static string Capital(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static string Sentence(string s) => s.EndsWith('.') ? s : s + ".";
}
