using SlmStudio.Core.Classification;

namespace SlmStudio.Core.Tests.Classification;

/// <summary>
/// A tiny, deterministic intent set for learning tests: each label has its own words, wrapped in filler shared by all
/// labels, so a model must pick out the words that matter (chance is 1 / labels).
/// </summary>
internal static class SyntheticIntents
{
    public static readonly string[] Labels = ["billing", "delivery", "account", "cancel"];

    private static readonly string[][] Keywords =
    [
        ["invoice", "charged twice", "payment failed", "refund", "bill"],
        ["parcel", "tracking number", "courier", "shipping", "package"],
        ["password", "log in", "username", "sign in", "locked out"],
        ["cancel", "unsubscribe", "close my subscription", "stop my plan", "end contract"],
    ];

    private static readonly string[] Openers = ["hi", "hello", "please help", "good morning", "hey team", "excuse me", ""];
    private static readonly string[] Middles = ["i have a question about my", "there is a problem with the", "can you check the", "what about my", "i need help with the"];
    private static readonly string[] Closers = ["thanks", "asap please", "today", "it is urgent", "", "regards"];

    public static List<LabelledExample> Make(int perLabel, int seed)
    {
        var random = new Random(seed);
        var rows = new List<LabelledExample>();
        for (int i = 0; i < perLabel; i++)
            for (int l = 0; l < Labels.Length; l++)
            {
                string Pick(string[] words) => words[random.Next(words.Length)];
                var text = string.Join(' ', new[] { Pick(Openers), Pick(Middles), Pick(Keywords[l]), Pick(Closers) }.Where(w => w.Length > 0));
                rows.Add(new LabelledExample(text, Labels[l], rows.Count + 2));
            }
        return rows;
    }
}
