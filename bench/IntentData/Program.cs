using System.Globalization;
using System.Text;
using IntentData;

// Writes a realistic intent-classification set: short customer messages of an online shop, one label each.
//   dotnet run --project bench/IntentData -c Release -- [--out bench/data] [--train 6000] [--test 1500] [--seed 42] [--unseen 0.3]
// The same seed gives the same files byte for byte. The test file holds no message that is also in the training file.
// One phrasing (template) of each intent is kept out of training; --unseen is the share of test messages written with
// it, so the test also measures how a model copes with a new way of asking (0 turns this off).
var options = Args(args);
var outDir = options.GetValueOrDefault("out", Path.Combine("bench", "data"));
var trainCount = int.Parse(options.GetValueOrDefault("train", "6000"), CultureInfo.InvariantCulture);
var testCount = int.Parse(options.GetValueOrDefault("test", "1500"), CultureInfo.InvariantCulture);
var seed = int.Parse(options.GetValueOrDefault("seed", "42"), CultureInfo.InvariantCulture);
var unseenShare = double.Parse(options.GetValueOrDefault("unseen", "0.3"), CultureInfo.InvariantCulture);

var random = new Random(seed);
var heldOut = Intents.All.Select(i => random.Next(i.Templates.Length)).ToArray();
var seen = new HashSet<string>(StringComparer.Ordinal);
var train = Generate(trainCount, random, seen, heldOut, 0);
var test = Generate(testCount, random, seen, heldOut, unseenShare);
Directory.CreateDirectory(outDir);
Write(Path.Combine(outDir, "intents-train.csv"), train);
Write(Path.Combine(outDir, "intents-test.csv"), test);
Console.WriteLine($"{Intents.All.Length} labels; {train.Count} training and {test.Count} test messages written to {outDir}.");

static List<(string Text, string Label)> Generate(int count, Random random, HashSet<string> seen, int[] heldOut, double unseenShare)
{
    var rows = new List<(string, string)>(count);
    var attempts = 0;
    while (rows.Count < count)
    {
        if (++attempts > count * 50) throw new InvalidOperationException("Too few distinct messages for the count asked; lower --train/--test.");
        // Labels are not equally common in real queues: a skew of about 5:1 between the most and least common.
        var i = (int)(Intents.All.Length * Math.Pow(random.NextDouble(), 1.4));
        var (label, templates) = Intents.All[i];
        int t;
        if (random.NextDouble() < unseenShare) t = heldOut[i];
        else do t = random.Next(templates.Length); while (t == heldOut[i]);
        var text = Noise(Fill(templates[t], random), random);
        if (seen.Add(text)) rows.Add((text, label));
    }
    return rows;
}

static string Fill(string template, Random random)
{
    string Pick(string[] xs) => xs[random.Next(xs.Length)];
    var product = Pick(Intents.Products);
    var text = template
        .Replace("{order}", random.Next(3) == 0 ? $"#{random.Next(100000, 999999)}" : $"{(char)('A' + random.Next(26))}{random.Next(10000, 99999)}")
        .Replace("{product2}", Pick(Intents.Products.Where(p => p != product).ToArray()))
        .Replace("{product}", product)
        .Replace("{city}", Pick(Intents.Cities))
        .Replace("{card}", Pick(Intents.Cards))
        .Replace("{plan}", Pick(Intents.Plans))
        .Replace("{date}", Pick(Intents.Dates))
        .Replace("{size}", Pick(Intents.Sizes))
        .Replace("{code}", $"SAVE{random.Next(5, 50)}")
        .Replace("{amount}", $"£{random.Next(5, 400)}.{random.Next(0, 100):00}")
        .Replace("{days}", random.Next(2, 30).ToString(CultureInfo.InvariantCulture))
        .Replace("{n}", random.Next(2, 6).ToString(CultureInfo.InvariantCulture))
        .Replace("{m}", random.Next(6, 9).ToString(CultureInfo.InvariantCulture));
    return text;
}

// What people type: greetings and sign-offs, capitals or none, missing punctuation, a slip of the finger.
static string Noise(string text, Random random)
{
    string Pick(string[] xs) => xs[random.Next(xs.Length)];
    if (random.NextDouble() < 0.35) text = $"{Pick(Intents.Openers)}{(random.Next(2) == 0 ? "," : "")} {text}";
    if (random.NextDouble() < 0.3) text = $"{text}{(random.Next(2) == 0 ? "." : "")} {Pick(Intents.Closers)}";
    if (random.NextDouble() < 0.15) text = Typo(text, random);
    var r = random.NextDouble();
    if (r < 0.5) text = char.ToUpperInvariant(text[0]) + text[1..].Replace(" i ", " I ").Replace(" i'", " I'");
    else if (r < 0.55) text = text.ToUpperInvariant();
    if (!text.EndsWith('?') && random.NextDouble() < 0.4) text += random.Next(3) == 0 ? "!" : ".";
    return text;
}

static string Typo(string text, Random random)
{
    var words = text.Split(' ');
    var candidates = Enumerable.Range(0, words.Length).Where(w => words[w].Length > 4 && words[w].All(char.IsLetter)).ToList();
    if (candidates.Count == 0) return text;
    var w = candidates[random.Next(candidates.Count)];
    var chars = words[w].ToCharArray();
    var at = random.Next(chars.Length - 1);
    (chars[at], chars[at + 1]) = (chars[at + 1], chars[at]);
    words[w] = new string(chars);
    return string.Join(' ', words);
}

static void Write(string path, List<(string Text, string Label)> rows)
{
    var sb = new StringBuilder("text,label\n");
    foreach (var (text, label) in rows) sb.Append(Csv(text)).Append(',').Append(Csv(label)).Append('\n');
    File.WriteAllText(path, sb.ToString(), new UTF8Encoding(false));
}

static string Csv(string field) => field.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{field.Replace("\"", "\"\"")}\"" : field;

static Dictionary<string, string> Args(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (int i = 0; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Expected --name value, got '{args[i]}'.");
        result[args[i][2..]] = args[i + 1];
    }
    return result;
}
