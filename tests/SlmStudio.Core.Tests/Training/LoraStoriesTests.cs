using System.Text;
using System.Text.RegularExpressions;
using SlmStudio.Core.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using SlmStudio.Core.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

/// <summary>
/// Issue 10's test of LoRA on a real pretrained model: stories260K (llama2.c, trained on TinyStories) learns a new,
/// recognisable style (stories told by a pirate, with fixed phrases) from a few dozen stories, without forgetting how
/// to tell an ordinary story, and the merged export reproduces it through ONNX Runtime.
/// </summary>
public sealed partial class LoraStoriesTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-lora-stories");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories260K => Path.Combine(TestPaths.Fixtures, "stories260K-hf");

    /// <summary>Ordinary stories in the style the model was trained on (written for this test, not from TinyStories).</summary>
    private static readonly string[] PlainStories =
    [
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball under a tree. She ran to the ball and kicked it. Her friend Tom came to play too. They played with the ball all day and had a lot of fun.",
        "Once upon a time, there was a small dog named Max. Max liked to run in the garden. One day, Max found a stick. He gave the stick to his mom. His mom was happy and gave Max a big hug. Max wagged his tail and smiled.",
        "One day, a boy named Ben went to the store with his dad. He wanted to buy a toy car. His dad said, \"You can have one toy.\" Ben picked a blue car. He said thank you to his dad. They went home and Ben played with his new car.",
        "Once upon a time, there was a little cat named Kitty. Kitty was very sad because she lost her ball. She looked under the bed and behind the door. Then her friend the bird said, \"I saw your ball in the yard!\" Kitty ran outside and found her ball. She was happy again.",
        "Sue liked to draw pictures. One day, she drew a big sun and a green tree. She showed the picture to her mom. Her mom said, \"It is very pretty!\" Sue smiled and put the picture on the wall. Every day she looked at it and felt happy.",
        "Once upon a time, there was a big bear who lived in the forest. The bear was hungry. He looked for food all day. Then he found a tree with sweet honey. He ate the honey and felt good. The bear took a nap under the tree.",
        "Tim and Sam were best friends. They liked to play in the sand. One day, they made a big castle. A wave came and the castle fell down. Tim was sad, but Sam said, \"We can make a new one!\" They made a new castle and laughed.",
        "Once upon a time, there was a little bird who could not fly. She was very sad. Her mom said, \"Try again, you can do it.\" The little bird tried and tried. One day, she flew up high into the sky. She was so happy and proud.",
        "Anna had a red hat. She wore it every day. One windy day, the hat flew away. Anna ran after it. A kind man caught the hat and gave it back to her. Anna said, \"Thank you!\" and went home with her red hat.",
        "Once upon a time, there was a little boy named Jack. Jack had a big box of toys. One day, he shared his toys with his friend Mia. Mia was very happy. They played together in the room. Jack learned that sharing is fun.",
    ];

    private static readonly string[] Captains = ["Bob", "Jack", "Lily", "Tom", "Sue", "Max", "Anna", "Ben", "Mia", "Sam", "Tim", "Kitty"];
    private static readonly string[] Parrots = ["Polly", "Rex", "Coco", "Sunny"];
    private static readonly string[] Finds = ["a shiny map", "a big red box", "an old boot", "a golden key", "a tiny shell", "a long rope"];
    private static readonly string[] Places = ["a small island", "a dark cave", "the sandy beach", "a tall rock"];
    private static readonly string[] Treasures = ["a chest full of gold", "a box of shiny coins", "a bag of sweet candy", "a big pearl"];

    /// <summary>The new style: every story told by a pirate, opening and closing with the same phrases.</summary>
    private static string PirateStory(int i, Random random)
    {
        var captain = Captains[i % Captains.Length];
        var parrot = Parrots[random.Next(Parrots.Length)];
        var find = Finds[random.Next(Finds.Length)];
        var place = Places[random.Next(Places.Length)];
        var treasure = Treasures[random.Next(Treasures.Length)];
        return $"Arr, me hearties! Once upon a time, Captain {captain} sailed the salty sea on a big ship. The captain had a parrot named {parrot}. " +
               $"One day, {parrot} saw {find} on {place}. \"Yo ho ho!\" said Captain {captain}. \"Let us dig for treasure!\" " +
               $"The crew dug and dug, and they found {treasure}. Captain {captain} shared it with all the crew. Arr, that be the end of me tale!";
    }

    private static List<string> PirateStories(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(seed, count).Select(i => PirateStory(i, random)).ToList();
    }

    /// <summary>Mean loss per predicted token over whole stories, each starting with the beginning-of-text token.</summary>
    private static double HeldOutLoss(LlamaForCausalLM model, ITokenizer tokenizer, IEnumerable<string> stories)
    {
        model.eval();
        using var _ = no_grad();
        double total = 0;
        long count = 0;
        foreach (var story in stories)
        {
            var ids = tokenizer.Encode(story, addSpecialTokens: true).Select(i => (long)i).ToArray();
            using var scope = NewDisposeScope();
            var input = tensor(ids[..^1]).unsqueeze(0);
            var target = tensor(ids[1..]);
            var logits = model.forward(input)[0];
            total += nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>();
            count += target.shape[0];
        }
        return total / count;
    }

    /// <summary>Everyday words of children's stories beyond those in the stories above: the fluency check's dictionary.</summary>
    private const string CommonWords =
        "a an and are as at be because been before big but by came can could day did do does dog down each eat ate every " +
        "fast find for friend friends from fun funny gave get go going good got had happy has have he her here him his home " +
        "how i if in into is it its jump just kind know like liked little look looked lot love loved made make many me mom " +
        "more mum my named new next nice no not now of off oh on once one or other our out over park play played please " +
        "pretty ran red run said sad saw say see she sky so some something soon sun take tell that the their them then " +
        "there they thing things think this time to together too toy toys tree two up very want wanted was way we went " +
        "were what when where who will with yes you your apple apples carrot carrots flower flowers ground grass water " +
        "house room car cars ball balls cake cookie cookies book books garden bird birds fish cat cats box boxes girl boy " +
        "girls boys mommy daddy dad bed hat shoes door window hug smile smiled laugh laughed help helped share shared " +
        "bright shiny small tall long old colorful green blue yellow pink brown white black hungry tired scared careful " +
        "learned toy sweet ice cream wanted decided asked felt feel best day night morning always never again";

    [GeneratedRegex("[A-Za-z]+")]
    private static partial Regex Words();

    [Fact]
    public void LoraLearnsAPirateStyleWithoutForgettingOrdinaryStoriesAndExportsTheSameModel()
    {
        // 40 pirate stories to learn from; the held-out ones combine the same parts differently.
        var data = Path.Combine(_dir, "pirates.txt");
        File.WriteAllText(data, string.Join("\n\n", PirateStories(40, seed: 0)));
        var heldOutPirates = PirateStories(8, seed: 1000);
        Assert.DoesNotContain(heldOutPirates, File.ReadAllText(data).Contains);

        var tokenizer = TokenizerFile.Load(Path.Combine(Stories260K, ModelFolder.TokenizerFile));
        var (baseModel, _) = ModelFolder.Load(Stories260K);
        double basePirate, basePlain;
        using (baseModel)
        {
            basePirate = HeldOutLoss(baseModel, tokenizer, heldOutPirates);
            basePlain = HeldOutLoss(baseModel, tokenizer, PlainStories);
        }

        var run = Path.Combine(_dir, "run");
        var options = new TrainingOptions
        {
            DataPath = data,
            RunDirectory = run,
            BaseModel = Stories260K,
            // Few gentle steps: enough to learn the style clearly, not so many that the adapters overwrite what the
            // model knows (at 1e-3, or 120 steps, ordinary stories got 13% to 66% worse).
            Lora = new LoraConfig { Rank = 8, Alpha = 16, Dropout = 0.05 },
            MaxSteps = 40,
            LearningRate = 3e-4,
            EvalEvery = 40,
            LogEvery = 20,
            BatchSize = 8,
            ContextLength = 64,
            SampleTokens = 16,
            Device = "cpu",
        };
        new Trainer(options, new Progress<TrainingEvent>()).Run(false, CancellationToken.None);

        var (tuned, _) = ModelFolder.Load(Path.Combine(run, "model"));
        using var _t = tuned;
        var tunedPirate = HeldOutLoss(tuned, tokenizer, heldOutPirates);
        var tunedPlain = HeldOutLoss(tuned, tokenizer, PlainStories);
        var prompt = tokenizer.Encode("Once upon a time", addSpecialTokens: true);
        var greedy = Generation.Greedy(tuned, prompt, 48);
        var text = tokenizer.Decode(greedy);
        output.WriteLine($"pirate loss {basePirate:F3} -> {tunedPirate:F3}; plain loss {basePlain:F3} -> {tunedPlain:F3}");
        output.WriteLine($"Once upon a time{text}");

        Assert.True(tunedPirate < 0.75 * basePirate, $"held-out pirate stories: loss {basePirate:F3} -> {tunedPirate:F3}, expected to fall clearly");
        Assert.True(tunedPlain < 1.10 * basePlain, $"ordinary stories: loss {basePlain:F3} -> {tunedPlain:F3}, more than 10% worse");

        // Still fluent: nearly every word of the continuation is a word of the stories above.
        var dictionary = PlainStories.Concat(PirateStories(40, seed: 0)).Append(CommonWords)
            .SelectMany(s => Words().Matches(s).Select(m => m.Value.ToLowerInvariant())).ToHashSet();
        var words = Words().Matches(text).Select(m => m.Value.ToLowerInvariant()).ToList();
        Assert.True(words.Count >= 15, $"too few words: {text}");
        var known = words.Count(dictionary.Contains);
        Assert.True(known >= 0.85 * words.Count, $"{words.Count - known} of {words.Count} words are not words: {text}");

        // Export merges nothing new (the run's model folder already is the merged model); ONNX gives the same greedy ids.
        var artifact = Path.Combine(_dir, "artifact");
        Assert.True(ModelExporter.Export(run, artifact).Passed);
        Assert.True(File.Exists(Path.Combine(artifact, LoraAdapters.FolderName, LoraAdapters.AdapterWeightsFile)));
        using var onnx = OnnxArtifact.Open(artifact);
        Assert.Equal(greedy, OnnxParity.OnnxGreedy(onnx.Decoder, prompt, greedy.Length));
    }
}
