namespace P2PSwarm.Inference.Tokenization;

/// <summary>
/// The English text the generated checkpoints' tokenizer learns its merges from. Written for this project (so it
/// is free to ship); varied enough that common words, numbers and punctuation become single tokens.
/// </summary>
internal static class TrainingCorpus
{
    public const string Text = """
        The river runs past the old mill and into the valley, where the morning fog stays until the sun is high.
        In the village there is a small market. Every Saturday the farmers bring bread, apples, cheese and honey,
        and the children run between the stalls while their parents talk about the weather and the price of wheat.

        A library is a quiet place with a loud memory. On its shelves the voices of people who lived long ago
        still speak to anyone who opens a book. The librarian knows where every story lives: history on the left,
        poetry by the window, and the maps of distant countries in the tall cabinet near the door.

        Once upon a time, a young engineer wanted to build a machine that could think. She started with a simple
        question: what does it mean to understand a sentence? She wrote down the words, counted them, and noticed
        that some pairs of letters appeared again and again. "If I join the most common pairs," she said, "the
        machine will learn the pieces that words are made of." It was a small idea, but it worked.

        The weather today is cold and clear. Tomorrow it will be warmer, with a light wind from the west and
        a chance of rain in the evening. On Monday the temperature will reach 18 degrees; on Tuesday, 21 degrees.

        Numbers are everywhere: 1, 2, 3, 10, 42, 100, 256, 1024, 2048, 65536. A year has 365 days, a day has
        24 hours, an hour has 60 minutes. In 1969 people walked on the moon for the first time, and in 2024 a
        network of small computers in many homes could together run a model that none of them could hold alone.

        Computers talk to each other over networks. Each message has a header and a body; the header says how
        long the body is, so the reader knows when to stop. A careful program checks every length before it
        trusts it, because a message from a stranger may be wrong, broken, or even hostile.

        What is the capital of France? The capital of France is Paris. What is the largest ocean? The Pacific
        Ocean is the largest ocean on Earth. Who wrote the first program? Many people say it was Ada Lovelace,
        who described how a machine could compute a sequence of numbers, long before such machines were built.

        The cat sat on the warm stone and watched the birds. The dog was sleeping under the table, and the
        kitchen smelled of fresh coffee and toast. "Good morning," said the old man, "it is a beautiful day."
        "Yes," answered his daughter, "let us walk to the hill after breakfast and see the whole valley."

        To make tea, boil the water, warm the pot, add one spoon of leaves for each person and one for the pot,
        then wait four minutes. Pour it slowly. Some people add milk and sugar; others prefer it plain.

        Science is a way of asking questions and testing the answers. A good experiment changes one thing at a
        time, measures the result, and repeats the measurement to see whether it holds. When the numbers agree,
        we learn something; when they do not, we learn something more interesting.

        The train leaves the station at seven in the morning. Passengers carry coffee, newspapers and small
        bags; a few of them read, most of them look out of the window at the fields, the farms and the rivers
        that pass by. At the third stop a teacher gets on with twenty children who are going to the museum.
        They want to see the dinosaurs, the old ships and the room where the stars are painted on the ceiling.

        There are many ways to measure a mountain. You can climb it and count your steps, you can look at it
        from two places and use a little geometry, or you can read the number on the map that someone else
        measured before you. The last way is the easiest, but the first way teaches you the most.

        In winter the lake freezes and the people of the town walk on the ice. They build small houses on it,
        cut round holes, and sit for hours waiting for a fish. Some of them talk, some of them sing, and some
        of them simply enjoy the silence, the white light and the cold, clean air.

        A good recipe for bread needs only four things: flour, water, salt and yeast. Mix them, knead the dough
        for ten minutes, let it rest in a warm place for two hours, shape it, let it rise again, and bake it in
        a hot oven until the crust is brown and the loaf sounds hollow when you knock on the bottom.

        The first computers filled whole rooms and used more power than a street of houses. Today a phone in
        your pocket is thousands of times faster. Yet some problems are still too large for one machine, and so
        people connect many machines together, each doing a part of the work, and share the results.

        When you learn a new language, start with the words you need every day: hello, thank you, please,
        water, bread, where is the station, how much does it cost. Then listen to people speak, read simple
        stories, and do not be afraid of mistakes. Every mistake is a lesson, and every lesson makes you better.

        The garden behind the house has roses, tomatoes, beans and a tall apple tree. In the spring the tree is
        covered with white flowers; in the autumn the branches bend under the weight of red and green apples.
        The children climb the tree, the birds eat the fruit at the top, and the grandmother makes apple pie.

        History is not only the story of kings and wars. It is also the story of farmers and bakers, of doctors
        and teachers, of people who built roads, wrote letters, planted trees and raised children. Their names
        are often forgotten, but the world we live in was made by their hands.

        """;
}
